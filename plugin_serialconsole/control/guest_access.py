"""Which guests the request's operator may see and act on, for every REST handler.

A guest the operator may not view answers 404, as one that does not exist; a missing
right on a guest they may view, 403. Each refusal about a guest goes to the audit trail.
"""

from __future__ import annotations

import cherrypy

from plugin_serialconsole import audit
from plugin_serialconsole.audit import AuditTrail
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.rights import VIEW, Rights, subject_of


class GuestAccess:
    def __init__(self, guests: Fleet, rights: Rights, trail: AuditTrail) -> None:
        self.guests = guests
        self.rights = rights
        self.audit = trail

    def visible_guest(self, ident: str, hypervisor: str | None) -> Guest:
        """The guest ``ident`` names (on ``hypervisor``, if given), if the operator may view
        it; else 404."""
        return self.visible_among(ident, self.guests.candidates(ident, hypervisor))

    def current_guest(self, ident: str, hypervisor: str | None) -> Guest:
        """``visible_guest``, as its hypervisor has it now (``Fleet.current``): for what
        is found by its UUID (sessions, logs, recordings), never by a name it had."""
        return self.guests.current(self.visible_guest(ident, hypervisor))

    def visible_among(self, ident: str, candidates: list[Guest], right: str = VIEW) -> Guest:
        """The one of the guests ``ident`` names that the operator may view (or has
        ``right`` on): the others are dropped first, so an ambiguity (409) never names a
        guest they cannot see; 404 (recorded) if none is left."""
        subject = subject_of(cherrypy.request.identity)
        visible = [
            guest
            for guest in candidates
            if {VIEW, right} & self.rights.of(subject, guest.hypervisor, guest.name)
        ]
        if not visible:
            self.require(candidates[0], right, ident)
        return self.guests.one_of(ident, visible)

    def require(self, guest: Guest, right: str, asked_as: str = "") -> None:
        """Raise unless the request's operator has ``right`` on ``guest`` (e.g. ``POWER``
        for starting it or sending it keys): 404 without ``view``, else 403."""
        identity = cherrypy.request.identity
        try:
            self.rights.require(identity, guest.hypervisor, guest.name, right, asked_as)
        except SerialConsoleError as error:
            self.audit.guest_event(
                audit.DENIED, guest, identity, right=right, status=error.status, code=error.code
            )
            raise

    def granted(self, guest: Guest) -> frozenset[str]:
        """The request's operator's rights on ``guest``."""
        return self.rights.of(subject_of(cherrypy.request.identity), guest.hypervisor, guest.name)
