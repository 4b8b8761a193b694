"""The guests and the hypervisors they run on.

    GET    /vms                    every guest with state and console devices
    GET    /vms/<guest>            one guest (by name, else UUID)
    POST   /vms/<guest>/start      start a shut-off guest with its consoles captured
    GET    /hypervisors            each hypervisor's name, URI (redacted), state
    GET    /hypervisors/<hv>/vms   the guests of one hypervisor

Each guest's JSON holds the operator's rights on it; a guest they may not view is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cherrypy

from plugin_serialconsole import audit, i18n
from plugin_serialconsole.audit import AuditTrail
from plugin_serialconsole.control import http
from plugin_serialconsole.control.guest_access import GuestAccess
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.model.capture_logs import CaptureLogs
from plugin_serialconsole.model.captures import CaptureKeeper
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.guests import Guest, iso_time
from plugin_serialconsole.rights import POWER, VIEW, ordered, subject_of


class FleetRoutes:
    def __init__(
        self,
        access: GuestAccess,
        guests: Fleet,
        trail: AuditTrail,
        logs: CaptureLogs | None,
        captures: CaptureKeeper | None,
        hypervisor_states: Callable[[], list[Any]],
    ) -> None:
        self.access = access
        self.guests = guests
        self.audit = trail
        self.logs = logs
        self.captures = captures
        self.hypervisor_states = hypervisor_states

    def list_guests(self, hypervisor: str | None = None) -> bytes:
        subject = subject_of(cherrypy.request.identity)
        guests = self.guests.list(hypervisor)
        rights = self.access.rights
        granted = [(guest, rights.of(subject, guest.hypervisor, guest.name)) for guest in guests]
        return http.respond(200, self._guests_json([(g, r) for g, r in granted if VIEW in r]))

    def show_guest(self, ident: str, hypervisor: str | None = None) -> bytes:
        guest = self.access.visible_guest(ident, hypervisor)
        return http.respond(200, self._guests_json([(guest, self.access.granted(guest))])[0])

    def start_guest(self, ident: str, hypervisor: str | None = None) -> bytes:
        http.json_body("vm_start")
        guest = self.access.visible_guest(ident, hypervisor)
        self.access.require(guest, POWER)
        if self.captures is None:
            raise SerialConsoleError(i18n.METHOD_NOT_ALLOWED, 405, method="POST")
        guest = self.guests.fresh(guest)
        started, captured = self.captures.start_guest(guest)
        self.audit.guest_event(audit.START, started, cherrypy.request.identity, captured=captured)
        document = self._guests_json([(started, self.access.granted(started))])[0]
        return http.respond(200, {**document, "captured": captured})

    def _guests_json(self, granted: list[tuple[Guest, frozenset[str]]]) -> list[dict[str, Any]]:
        """The guests' JSON, with the operator's rights on each and, with capture logs, when
        each one's console log was last written."""
        docs = [{**guest.as_json(), "rights": ordered(rights)} for guest, rights in granted]
        if self.logs is None:
            return docs
        written = self.logs.last_written([guest for guest, _ in granted])
        return [{**doc, "log_written": written[(doc["hypervisor"], doc["uuid"])]} for doc in docs]

    def list_hypervisors(self) -> bytes:
        """Each hypervisor as the host sees it now; never waits on one. A connected one's
        guest count is of its last listing (of the guests the operator may view, so it
        tells nothing of the others), else the count made when it connected; the host
        makes no call of its own for it (see ``host.connection``). ``listed_at`` says
        when its last listing was read, ``listing`` whether the one in flight is late
        (its guests are listed as of ``listed_at``) or timed out (they are unreachable)."""
        subject = subject_of(cherrypy.request.identity)
        rights = self.access.rights
        docs = [state.as_json() for state in self.hypervisor_states()]
        for doc in docs:
            name = doc["name"]
            listed_at, lateness = self.guests.listing(name)
            doc["listed_at"] = None if listed_at is None else iso_time(listed_at)
            doc["listing"] = lateness
            listed = self.guests.last_listed(name)
            if doc["guests"] is None or (listed is None and rights.everywhere(subject, VIEW, name)):
                continue
            visible = [g for g in listed or [] if rights.allows(subject, name, g.name, VIEW)]
            doc["guests"] = None if listed is None else len(visible)
        return http.respond(200, docs)
