// The guest list: every guest with its state and console devices (guest-row.js). When the
// host serves more than one hypervisor, the guests are grouped by hypervisor, each group
// headed by its hypervisor's state, with a filter (hypervisor-groups.js); with one, the
// list is a single group without a heading. Refresh reloads guests and hypervisors alike.

import { listGuests, listHypervisors, needsLogin, resumeSession } from "./api.js";
import { guestRef } from "./guest-ref.js";
import { guestRow } from "./guest-row.js";
import {
  applyFilter,
  askedHypervisor,
  fillFilter,
  groupByHypervisor,
  groupHeading,
  rememberHypervisor,
} from "./hypervisor-groups.js";
import { _, format, loadCatalog } from "./i18n.js";
import { askLogin } from "./login.js";

const $ = (id) => document.getElementById(id);
let chosenHypervisor = askedHypervisor();

/** One table body of `guests`; `hypervisor` (grouped) heads it and qualifies each guest. */
function groupBody(guests, hypervisor, firstIndex) {
  const body = document.createElement("tbody");
  if (hypervisor) {
    body.dataset.hypervisor = hypervisor.name;
    body.append(groupHeading(hypervisor, guests.length));
  }
  guests.forEach((guest, offset) => {
    const ref = guestRef(guest.name, hypervisor ? guest.hypervisor : null);
    body.append(guestRow(guest, ref, firstIndex + offset));
  });
  return body;
}

function render(guests, hypervisors) {
  const table = $("guests");
  const grouped = hypervisors.length > 1;
  const bodies = [];
  if (grouped) {
    let index = 0;
    for (const group of groupByHypervisor(guests, hypervisors)) {
      bodies.push(groupBody(group.guests, group.hypervisor, index));
      index += group.guests.length;
    }
  } else {
    bodies.push(groupBody(guests, null, 0));
  }
  for (const body of [...table.tBodies]) {
    body.remove();
  }
  table.append(...bodies);
  const filter = $("hypervisor-filter");
  fillFilter(filter, grouped ? hypervisors : [], chosenHypervisor);
  $("hypervisor-filter-field").hidden = !grouped;
  applyFilter(table, filter.value);
  table.hidden = false;
}

async function refresh() {
  const status = $("list-status");
  status.textContent = _("Loading guests…");
  try {
    const guests = await listGuests();
    const hypervisors = await listHypervisors(); // after: how late this very listing was
    render(guests, hypervisors);
    status.textContent = guests.length
      ? format(_("Guests: %(count)s"), { count: guests.length })
      : _("There are no guests.");
  } catch (error) {
    status.textContent = format(_("The guest list could not be loaded: %(reason)s"), {
      reason: error.reason || String(error),
    });
    if (needsLogin(error)) {
      await askLogin($("login"));
      await refresh();
    }
  }
}

function chooseHypervisor(event) {
  chosenHypervisor = event.target.value;
  rememberHypervisor(chosenHypervisor);
  applyFilter($("guests"), chosenHypervisor);
}

async function main() {
  await loadCatalog();
  await resumeSession();
  $("refresh").addEventListener("click", refresh);
  $("hypervisor-filter").addEventListener("change", chooseHypervisor);
  await refresh();
}

main();
