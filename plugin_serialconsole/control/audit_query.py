"""``GET /audit``: the audit trail's events an operator may read.

An operator reads the events about the guests on which they have the ``audit`` right;
events about no guest (logins, logouts, requests refused before a guest was named) only
with ``audit`` on every guest (a rule for ``*``, every right, or no rights file). Asking
for one guest (``guest=`` its name or UUID, ``hypervisor=`` where, if the name is on
several) is checked like any request about it: 404 without ``view`` on it, 403 without
``audit``; its events are those of its hypervisor and UUID (a same-named guest elsewhere,
or a copy with its UUID, has its own). ``hypervisor=`` alone asks for the events of the
guests on it. Without either, the answer holds what may be read, which may be nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import cherrypy

from plugin_serialconsole import i18n
from plugin_serialconsole.audit import AuditTrail, as_time
from plugin_serialconsole.auditfile import Event
from plugin_serialconsole.control import http
from plugin_serialconsole.control.guest_access import GuestAccess
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.hypervisor_uris import DEFAULT_NAME
from plugin_serialconsole.model.capture_logs import parse_time
from plugin_serialconsole.rights import AUDIT, VIEW, subject_of

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000  # the schema's bound too: what one answer holds in memory

Matches = Callable[[Event], bool]


class AuditQuery:
    def __init__(self, trail: AuditTrail, access: GuestAccess) -> None:
        self.trail = trail
        self.access = access
        self.rights = access.rights
        self.guests = access.guests

    def events(self) -> bytes:
        """``GET /audit``: the audit trail's events the operator has the ``audit`` right for."""
        query = http.query_params("audit_query")
        return http.respond(200, self.answer(cherrypy.request.identity, query))

    def answer(self, identity: Identity, query: dict[str, str]) -> list[Event]:
        """The matching events, oldest first: the newest ``limit`` of them."""
        since, until = (
            parse_time("since", query.get("since")),
            parse_time("until", query.get("until")),
        )
        of_guest = self._of_guest(query.get("guest"), query.get("hypervisor"), identity)
        subject = subject_of(identity)
        everywhere = self.rights.everywhere(subject, AUDIT)
        granted: dict[tuple[str, str], bool] = {}

        def may_read(event: Event) -> bool:
            guest, hypervisor = event.get("guest"), event.get("hypervisor", DEFAULT_NAME)
            if not isinstance(guest, str) or not isinstance(hypervisor, str):
                return everywhere
            if (hypervisor, guest) not in granted:
                allowed = self.rights.allows(subject, hypervisor, guest, AUDIT)
                granted[hypervisor, guest] = allowed
            return granted[hypervisor, guest]

        first = as_time(since) if since is not None else None
        last = as_time(until) if until is not None else None
        operator = query.get("operator")

        def matches(event: Event) -> bool:
            time = event.get("time")
            if not isinstance(time, str):
                return False
            if (first is not None and time < first) or (last is not None and time > last):
                return False
            if operator is not None and event.get("operator") != operator:
                return False
            if of_guest is not None and not of_guest(event):
                return False
            return may_read(event)

        events = self.trail.read(matches, int(query.get("limit", DEFAULT_LIMIT)), first, last)
        if events is None:
            raise SerialConsoleError(i18n.AUDIT_LOG_OFF, 404)
        return events

    def _of_guest(
        self, ident: str | None, hypervisor: str | None, identity: Identity
    ) -> Matches | None:
        """Whether an event is about the guest ``ident`` names (on ``hypervisor``), once the
        operator's ``audit`` right on it is checked: its hypervisor and UUID; a guest that no
        longer exists is checked, and matched, by the name it was asked by."""
        if ident is None and hypervisor is None:
            return None
        if ident is None:  # every guest's events on ``hypervisor``
            if hypervisor not in self.guests.names():
                raise SerialConsoleError(i18n.NO_SUCH_HYPERVISOR, 404, hypervisor=hypervisor)
            return lambda event: "guest" in event and _on(event, hypervisor)
        try:
            candidates = self.guests.candidates(ident, hypervisor)
        except SerialConsoleError as error:
            if error.status != 404 or error.code != i18n.GUEST_NOT_FOUND:
                raise
            self._require_somewhere(identity, ident, hypervisor)
            return lambda event: event.get("guest") == ident and _on(event, hypervisor)
        guest = self.access.visible_among(ident, candidates, AUDIT)
        self.access.require(guest, AUDIT, ident)
        return lambda event: event.get("uuid") == guest.uuid and _on(event, guest.hypervisor)

    def _require_somewhere(self, identity: Identity, ident: str, hypervisor: str | None) -> None:
        """Raise unless the operator has ``audit`` on the guest named ``ident`` that no
        longer exists, on ``hypervisor`` or else on one hypervisor at least (each event is
        still checked on its own): 404 without ``view`` on it anywhere, else 403."""
        where = [hypervisor] if hypervisor is not None else self.guests.names()
        subject = subject_of(identity)
        granted = {name: self.rights.of(subject, name, ident) for name in where}
        if any(AUDIT in rights for rights in granted.values()):
            return
        seen = next((name for name, rights in granted.items() if VIEW in rights), where[0])
        self.rights.require(identity, seen, ident, AUDIT, ident)


def _on(event: Event, hypervisor: str | None) -> bool:
    """Whether ``event`` happened on ``hypervisor`` (any, when None); events written before
    there were several hypervisors happened on the default one."""
    return hypervisor is None or event.get("hypervisor", DEFAULT_NAME) == hypervisor
