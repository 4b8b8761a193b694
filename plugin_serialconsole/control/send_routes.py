"""Sending a guest what typing cannot: SysRq, NMI, Ctrl+Alt+Del, Break, a control key.

    GET    /vms/<guest>/send       what may be sent to the guest besides typing
    POST   /vms/<guest>/send       send one of them

A control key needs the ``console`` right (it is typing into the console); everything else
acts on the guest and needs ``power``. Each send goes to the audit trail.
"""

from __future__ import annotations

from typing import Any

import cherrypy

from plugin_serialconsole import audit
from plugin_serialconsole.audit import AuditTrail
from plugin_serialconsole.control import http
from plugin_serialconsole.control.guest_access import GuestAccess
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.model.send import GuestSender
from plugin_serialconsole.rights import CONSOLE, POWER
from plugin_serialconsole.sendkeys import CONTROL, SendRequest


class SendRoutes:
    def __init__(
        self,
        access: GuestAccess,
        guests: Fleet,
        sessions: SessionManager,
        sender: GuestSender,
        trail: AuditTrail,
    ) -> None:
        self.access = access
        self.guests = guests
        self.sessions = sessions
        self.sender = sender
        self.audit = trail

    def send_options(self, ident: str, hypervisor: str | None = None) -> bytes:
        """What may be sent: only the actions the operator has the right for."""
        guest = self.access.visible_guest(ident, hypervisor)
        granted = self.access.granted(guest)
        options = self.sender.options()
        options["actions"] = [a for a in options["actions"] if _send_right(a) in granted]
        return http.respond(200, {"guest": guest.name, **options})

    def send(self, ident: str, hypervisor: str | None = None) -> bytes:
        request = SendRequest.from_json(http.json_body("vm_send"))
        guest = self.access.visible_guest(ident, hypervisor)
        self.access.require(guest, _send_right(request.action))
        guest = self.guests.fresh(guest)
        identity = cherrypy.request.identity
        try:
            answer = self.sender.send(guest, request, identity)
        except SerialConsoleError as error:
            if error.status == 504:  # no answer in time: it may have reached the guest still
                self._sent(guest, request, request.device, sent=False, status=504, code=error.code)
            raise
        self._sent(guest, request, answer.get("device"), sent=answer["sent"])
        return http.respond(200, answer)

    def _sent(self, guest: Guest, request: SendRequest, device: str | None, **outcome: Any) -> None:
        """Audit a send to ``guest``, on ``device`` (by default its first console)."""
        identity = cherrypy.request.identity
        device = device or (guest.consoles[0].alias if guest.consoles else None)
        writer = self.sessions.writer_session(guest, device, identity) if device else None
        self.audit.guest_event(
            audit.SEND, guest, identity, **{**request.as_json(), "device": device},
            session=writer, **outcome,
        )  # fmt: skip


def _send_right(action: str) -> str:
    """A control key is typing into the console; everything else acts on the guest."""
    return CONSOLE if action == CONTROL else POWER
