"""``GET /audit``: the audit trail's events an operator may read.

An operator reads the events about the guests on which they have the ``audit`` right;
events about no guest (logins, logouts, requests refused before a guest was named) only
with ``audit`` on every guest (a rule for ``*``, every right, or no rights file). Asking
for one guest (``guest=`` its name or UUID) is checked like any request about it: 404
without ``view`` on it, 403 without ``audit``. Without ``guest=`` the answer holds what
may be read, which may be nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from plugin_serialconsole import i18n
from plugin_serialconsole.audit import AuditTrail, as_time
from plugin_serialconsole.auditfile import Event
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.model.capture_logs import parse_time
from plugin_serialconsole.model.guests import Guest, GuestModel
from plugin_serialconsole.rights import AUDIT, Rights, subject_of

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000  # the schema's bound too: what one answer holds in memory

Require = Callable[[Guest, str, str], None]


class AuditQuery:
    def __init__(self, trail: AuditTrail, rights: Rights, guests: GuestModel) -> None:
        self.trail = trail
        self.rights = rights
        self.guests = guests

    def answer(self, identity: Identity, query: dict[str, str], require: Require) -> list[Event]:
        """The matching events, oldest first: the newest ``limit`` of them."""
        since, until = (
            parse_time("since", query.get("since")),
            parse_time("until", query.get("until")),
        )
        names = self._guest_names(query.get("guest"), identity, require)
        subject = subject_of(identity)
        everywhere = self.rights.everywhere(subject, AUDIT)
        granted: dict[str, bool] = {}

        def may_read(event: Event) -> bool:
            guest = event.get("guest")
            if not isinstance(guest, str):
                return everywhere
            if guest not in granted:
                granted[guest] = self.rights.allows(subject, guest, AUDIT)
            return granted[guest]

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
            if names is not None and not (
                event.get("guest") in names or event.get("uuid") in names
            ):
                return False
            return may_read(event)

        events = self.trail.read(matches, int(query.get("limit", DEFAULT_LIMIT)), first)
        if events is None:
            raise SerialConsoleError(i18n.AUDIT_LOG_OFF, 404)
        return events

    def _guest_names(
        self, ident: str | None, identity: Identity, require: Require
    ) -> set[str] | None:
        """What events of the guest ``ident`` names carry (its name, its UUID), once the
        operator's ``audit`` right on it is checked; a guest that no longer exists is
        checked by the name it was asked by."""
        if ident is None:
            return None
        try:
            guest = self.guests.lookup(ident)
        except SerialConsoleError as error:
            if error.status != 404:
                raise
            self.rights.require(identity, ident, AUDIT, ident)
            return {ident}
        require(guest, AUDIT, ident)
        return {guest.name, guest.uuid}
