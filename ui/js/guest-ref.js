// A guest as the pages refer to it: its name and, when the host serves more than one
// hypervisor, the hypervisor it is on. A name alone may then be ambiguous (the server
// answers 409 for a name found on two hypervisors), so every REST path and console page
// address of a guest whose hypervisor is known carries it: `hypervisors/<hv>/vms/<name>`
// and `hypervisor=<hv>` in console.html's query.

import { _, format, languageQuery } from "./i18n.js";

// The hypervisor of `--uri` / `[server] uri`: pages don't name it to people.
const DEFAULT_HYPERVISOR = "default";

/** `{name, hypervisor}`; `hypervisor` is null when the page need not say it. */
export function guestRef(name, hypervisor = null) {
  return { name, hypervisor: hypervisor || null };
}

/** The guest a console page's address names (`guest=`, `hypervisor=`). */
export function pageGuest(query) {
  return guestRef(query.get("guest") || "", query.get("hypervisor"));
}

/** The guest's REST path, relative to the plugin's mount point. */
export function guestPath(guest) {
  const path = "vms/" + encodeURIComponent(guest.name);
  if (!guest.hypervisor) {
    return path;
  }
  return "hypervisors/" + encodeURIComponent(guest.hypervisor) + "/" + path;
}

/** How the pages name the guest to people: "vm1 on hv2" off the default hypervisor. */
export function guestLabel(guest) {
  if (!guest.hypervisor || guest.hypervisor === DEFAULT_HYPERVISOR) {
    return guest.name;
  }
  return format(_("%(guest)s on %(hypervisor)s"), { guest: guest.name, hypervisor: guest.hypervisor });
}

/** The console page of the guest's `device`: "write", "view" only, or "start" it first. */
export function consoleHref(guest, device, mode = "write") {
  const params = new URLSearchParams({ guest: guest.name });
  if (guest.hypervisor) {
    params.set("hypervisor", guest.hypervisor);
  }
  params.set("device", device);
  if (mode === "view") {
    params.set("mode", "view");
  }
  if (mode === "start") {
    params.set("start", "1");
  }
  const lang = languageQuery();
  return "console.html?" + params.toString() + (lang ? "&" + lang : "");
}
