// One row of the guest list: the guest with its state and console devices, and an "Open
// console" link per device; the action is disabled, with the reason shown, when it can't
// work (a guest whose hypervisor does not answer can't be opened; one whose hypervisor is
// only late in listing can, and its state says when it was listed). A shut-off guest has a
// "Start" link: its console page starts it and shows the boot live. A device whose boot log
// was ever written has a "Boot log" download.

import { logPath } from "./api.js";
import { element } from "./dom.js";
import { consoleHref, guestLabel } from "./guest-ref.js";
import { listedAtText } from "./hypervisor-groups.js";
import { _, format } from "./i18n.js";

// States in which a console can be opened (the server's LIVE_STATES).
const LIVE = new Set(["running", "blocked", "paused"]);
// A guest listed from its hypervisor's last answer: that hypervisor does not answer now.
const UNREACHABLE = "unreachable";

export function stateLabel(state) {
  const labels = {
    running: _("running"),
    blocked: _("blocked"),
    paused: _("paused"),
    shutdown: _("shutting down"),
    shutoff: _("shut off"),
    crashed: _("crashed"),
    pmsuspended: _("suspended"),
    nostate: _("no state"),
    unreachable: _("unreachable"),
  };
  return labels[state] || state;
}

function consoleLink(ref, alias, mode) {
  const names = { device: alias, guest: guestLabel(ref) };
  const labels = {
    view: [_("Watch"), format(_("Watch console %(device)s of %(guest)s (view only)"), names)],
    write: [_("Open console"), format(_("Open console %(device)s of %(guest)s"), names)],
    start: [_("Start"), format(_("Start %(guest)s and watch its boot on %(device)s"), names)],
  };
  const [label, description] = labels[mode];
  return element(
    "a",
    {
      class: "button",
      href: consoleHref(ref, alias, mode),
      target: "_blank",
      rel: "noopener",
      "aria-label": description,
    },
    label,
  );
}

function disabledAction(label, reason, id) {
  const wrapper = element("span", { class: "action" });
  wrapper.append(
    element("button", { type: "button", disabled: "", "aria-describedby": id }, label),
    element("span", { class: "reason", id }, reason),
  );
  return wrapper;
}

/** Whether the operator has `right` on `guest` (a server without rights grants all). */
function may(guest, right) {
  return !Array.isArray(guest.rights) || guest.rights.includes(right);
}

/** Why the guest's consoles can't be opened now. */
function notRunningReason(guest) {
  if (guest.state === UNREACHABLE) {
    return format(_("Its hypervisor %(hypervisor)s does not answer."), {
      hypervisor: guest.hypervisor || "?",
    });
  }
  return format(_("The guest is not running (%(state)s)."), { state: stateLabel(guest.state) });
}

function logLink(ref, alias) {
  const names = { device: alias, guest: guestLabel(ref) };
  return element(
    "a",
    {
      class: "button",
      href: logPath(ref, alias),
      download: "",
      "aria-label": format(_("Download the boot log of %(device)s of %(guest)s"), names),
    },
    _("Boot log"),
  );
}

function devicesCell(guest, ref, index) {
  const cell = element("td");
  if (guest.consoles.length === 0) {
    cell.append(
      disabledAction(_("Open console"), _("This guest has no serial or console device."), `reason-${index}`),
    );
    return cell;
  }
  const running = LIVE.has(guest.state);
  const list = element("ul", { class: "devices" });
  guest.consoles.forEach((device, position) => {
    const item = element("li");
    const name = element("span", { class: "device" }, `${device.alias} (${device.type})`);
    item.append(name, " ");
    if (running) {
      if (may(guest, "console")) {
        item.append(consoleLink(ref, device.alias, "write"), " ");
      }
      item.append(consoleLink(ref, device.alias, "view"));
    } else {
      const reason = notRunningReason(guest);
      item.append(disabledAction(_("Open console"), reason, `reason-${index}-${position}`));
      if (guest.state === "shutoff" && position === 0) {
        item.append(" ", consoleLink(ref, device.alias, "start"));
      }
    }
    if (guest.log_written) {
      item.append(" ", logLink(ref, device.alias));
    }
    list.append(item);
  });
  cell.append(list);
  return cell;
}

/** The row of `guest` (as GET vms lists it), reached as `ref`; `index` keeps ids unique. */
export function guestRow(guest, ref, index) {
  const row = element("tr", { "data-guest": guest.name });
  if (ref.hypervisor) {
    row.dataset.hypervisor = ref.hypervisor;
  }
  const state = element("td", { class: `state state-${guest.state}` }, stateLabel(guest.state));
  const listed = guest.state === UNREACHABLE ? null : listedAtText(guest.listed_at);
  if (listed !== null) {
    state.append(" ", element("span", { class: "listed-at" }, listed));
  }
  row.append(element("th", { scope: "row" }, guest.name), state, devicesCell(guest, ref, index));
  return row;
}
