// The guest list's hypervisors. With more than one, the guests are grouped by hypervisor,
// one table body each, headed by the hypervisor's name, its state (connected, connecting
// or unreachable, since when, and why), how late its listing is (still listing, the
// guests shown as listed at some time, or a listing that does not answer) and its number
// of guests; a filter shows one hypervisor's group, or all of them. The filter's choice is kept in the page's address
// (`?hypervisor=`), so a reload or a bookmark shows the same group.

import { element } from "./dom.js";
import { _, currentLanguage, format } from "./i18n.js";

const COLUMNS = 3; // guest, state, console devices
const FILTER_PARAMETER = "hypervisor";

export function hypervisorStateLabel(state) {
  const labels = {
    connected: _("connected"),
    connecting: _("connecting"),
    unreachable: _("unreachable"),
  };
  return labels[state] || state;
}

/** `[{hypervisor, guests}]` in the order `hypervisors` (GET hypervisors) names them; a
 * guest of a hypervisor missing there gets a group of its own, of unknown state. */
export function groupByHypervisor(guests, hypervisors) {
  const groups = new Map(hypervisors.map((hypervisor) => [hypervisor.name, { hypervisor, guests: [] }]));
  for (const guest of guests) {
    const name = guest.hypervisor || "";
    if (!groups.has(name)) {
      groups.set(name, { hypervisor: { name, state: "", reason: "", since: null }, guests: [] });
    }
    groups.get(name).guests.push(guest);
  }
  return [...groups.values()];
}

/** `iso` (an ISO time from the API) as the page's language writes it; null if none. */
export function localTime(iso) {
  const time = iso ? new Date(iso) : null;
  if (!time || Number.isNaN(time.getTime())) {
    return null;
  }
  return time.toLocaleString(currentLanguage());
}

/** "as listed at <time>" for a guest (or hypervisor) listed earlier; null if not. */
export function listedAtText(listedAt) {
  const time = localTime(listedAt);
  return time === null ? null : format(_("as listed at %(time)s"), { time });
}

function stateText(hypervisor) {
  const state = hypervisorStateLabel(hypervisor.state);
  const time = localTime(hypervisor.since);
  return time === null ? state : format(_("%(state)s since %(time)s"), { state, time });
}

/** How late the hypervisor's listing is (GET hypervisors' `listing`), or null: a late one
 * is still listing, its guests as listed at `listed_at`, if ever. */
function listingText(hypervisor) {
  if (hypervisor.listing === "timed-out") {
    return _("its listing does not answer");
  }
  if (hypervisor.listing !== "late") {
    return null;
  }
  const listed = listedAtText(hypervisor.listed_at);
  return listed === null ? _("listing…") : `${listed}, ${_("listing…")}`;
}

/** The heading row of a hypervisor's group of `count` guests. */
export function groupHeading(hypervisor, count) {
  const cell = element("th", { scope: "rowgroup", colspan: String(COLUMNS), class: "hypervisor" });
  cell.append(
    element("span", { class: "hypervisor-name" }, hypervisor.name),
    " ",
    element("span", { class: `hypervisor-state hypervisor-${hypervisor.state}` }, stateText(hypervisor)),
  );
  if (hypervisor.reason) {
    cell.append(" ", element("span", { class: "reason" }, hypervisor.reason));
  }
  const listing = listingText(hypervisor);
  if (listing !== null) {
    cell.append(" ", element("span", { class: `listing listing-${hypervisor.listing}` }, listing));
  }
  cell.append(" ", element("span", { class: "count" }, format(_("Guests: %(count)s"), { count })));
  const row = element("tr", { class: "hypervisor-heading" });
  row.append(cell);
  return row;
}

/** The hypervisor the page's address asks to show ("" for all). */
export function askedHypervisor() {
  return new URLSearchParams(location.search).get(FILTER_PARAMETER) || "";
}

/** Keep `name` ("" for all) in the page's address. */
export function rememberHypervisor(name) {
  const query = new URLSearchParams(location.search);
  if (name) {
    query.set(FILTER_PARAMETER, name);
  } else {
    query.delete(FILTER_PARAMETER);
  }
  const search = query.toString();
  history.replaceState(history.state, "", location.pathname + (search ? "?" + search : ""));
}

/** The filter offers "all" (its first option, from the markup) and each hypervisor;
 * `chosen` stays selected while that hypervisor is still there. */
export function fillFilter(select, hypervisors, chosen) {
  const options = hypervisors.map((hypervisor) =>
    element("option", { value: hypervisor.name }, hypervisor.name),
  );
  select.replaceChildren(select.options[0], ...options);
  select.value = hypervisors.some((hypervisor) => hypervisor.name === chosen) ? chosen : "";
}

/** Show only the group of hypervisor `chosen` ("" for all). */
export function applyFilter(table, chosen) {
  for (const body of table.tBodies) {
    body.hidden = chosen !== "" && body.dataset.hypervisor !== chosen;
  }
}
