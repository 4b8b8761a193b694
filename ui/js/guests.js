// The guest list: every guest with its state and console devices, and an "Open console"
// link per device; the action is disabled, with the reason shown, when it can't work. A
// shut-off guest has a "Start" link: its console page starts it and shows the boot live.
// A device whose boot log was ever written has a "Boot log" download.

import { listGuests, logPath, needsLogin, resumeSession } from "./api.js";
import { _, format, languageQuery, loadCatalog } from "./i18n.js";
import { askLogin } from "./login.js";

// States in which a console can be opened (the server's LIVE_STATES).
const LIVE = new Set(["running", "blocked", "paused"]);

function stateLabel(state) {
  const labels = {
    running: _("running"),
    blocked: _("blocked"),
    paused: _("paused"),
    shutdown: _("shutting down"),
    shutoff: _("shut off"),
    crashed: _("crashed"),
    pmsuspended: _("suspended"),
    nostate: _("no state"),
  };
  return labels[state] || state;
}

function consoleHref(guest, alias, mode = "write") {
  const params = { guest, device: alias };
  if (mode === "view") {
    params.mode = "view";
  }
  if (mode === "start") {
    params.start = "1";
  }
  const query = new URLSearchParams(params).toString();
  const lang = languageQuery();
  return "console.html?" + query + (lang ? "&" + lang : "");
}

function consoleLink(guest, alias, mode) {
  const names = { device: alias, guest };
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
      href: consoleHref(guest, alias, mode),
      target: "_blank",
      rel: "noopener",
      "aria-label": description,
    },
    label,
  );
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  if (text) {
    node.textContent = text;
  }
  return node;
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

function devicesCell(guest, index) {
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
        item.append(consoleLink(guest.name, device.alias, "write"), " ");
      }
      item.append(consoleLink(guest.name, device.alias, "view"));
    } else {
      const reason = format(_("The guest is not running (%(state)s)."), {
        state: stateLabel(guest.state),
      });
      item.append(disabledAction(_("Open console"), reason, `reason-${index}-${position}`));
      if (guest.state === "shutoff" && position === 0) {
        item.append(" ", consoleLink(guest.name, device.alias, "start"));
      }
    }
    if (guest.log_written) {
      const names = { device: device.alias, guest: guest.name };
      item.append(
        " ",
        element(
          "a",
          {
            class: "button",
            href: logPath(guest.name, device.alias),
            download: "",
            "aria-label": format(_("Download the boot log of %(device)s of %(guest)s"), names),
          },
          _("Boot log"),
        ),
      );
    }
    list.append(item);
  });
  cell.append(list);
  return cell;
}

function render(guests) {
  const body = document.querySelector("#guests tbody");
  body.replaceChildren();
  guests.forEach((guest, index) => {
    const row = element("tr", { "data-guest": guest.name });
    row.append(
      element("th", { scope: "row" }, guest.name),
      element("td", { class: `state state-${guest.state}` }, stateLabel(guest.state)),
      devicesCell(guest, index),
    );
    body.append(row);
  });
  document.getElementById("guests").hidden = false;
}

async function refresh() {
  const status = document.getElementById("list-status");
  status.textContent = _("Loading guests…");
  try {
    const guests = await listGuests();
    render(guests);
    status.textContent = guests.length
      ? format(_("Guests: %(count)s"), { count: guests.length })
      : _("There are no guests.");
  } catch (error) {
    status.textContent = format(_("The guest list could not be loaded: %(reason)s"), {
      reason: error.reason || String(error),
    });
    if (needsLogin(error)) {
      await askLogin(document.getElementById("login"));
      await refresh();
    }
  }
}

async function main() {
  await loadCatalog();
  await resumeSession();
  document.getElementById("refresh").addEventListener("click", refresh);
  await refresh();
}

main();
