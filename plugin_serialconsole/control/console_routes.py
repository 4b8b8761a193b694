"""The guests' console sessions: opening one hands out a token and the console page.

POST   /vms/<guest>/serial     a console token (writer or viewer): 201
GET    /vms/<guest>/serial     the guest's console sessions
DELETE /vms/<guest>/serial     end the guest's console session(s): 204
GET    /sessions               open sessions
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import cherrypy

from plugin_serialconsole import consoles
from plugin_serialconsole.control import http
from plugin_serialconsole.control.guest_access import GuestAccess
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.rights import CONSOLE, TAKEOVER, VIEW, subject_of


class ConsoleRoutes:
    def __init__(
        self,
        access: GuestAccess,
        guests: Fleet,
        sessions: SessionManager,
        ws_url_prefix: Callable[[], str],
        token_ttl: float,
        mount_point: str,
    ) -> None:
        self.access = access
        self.guests = guests
        self.sessions = sessions
        self.ws_url_prefix = ws_url_prefix  # for the current request's client
        self.token_ttl = token_ttl
        self.mount_point = mount_point

    def open_console(self, ident: str, hypervisor: str | None = None) -> bytes:
        body = http.json_body("serial_open")
        guest = self.access.visible_guest(ident, hypervisor)
        mode = body.get("mode", consoles.WRITE)
        if mode == consoles.WRITE:
            self.access.require(guest, CONSOLE)
        if body.get("force", False):
            self.access.require(guest, TAKEOVER)
        guest = self.guests.fresh(guest)
        opened = self.sessions.open(
            guest,
            body.get("device"),
            bool(body.get("force", False)),
            http.request_language(),
            self.access.rights.narrowed(cherrypy.request.identity),
            mode,
            body.get("escape"),
        )
        device = opened.session.device.alias
        ws_url = self._ws_url(opened.token.token)
        return http.respond(
            201,
            {
                "token": opened.token.token,
                "ws_url": ws_url,
                "page": self._page(guest, device, ws_url, mode, opened.escape),
                "expires_in": int(self.token_ttl),
                "device": device,
                "mode": mode,
                "reattached": opened.reattached,
                "replay_bytes": opened.replay,
                "escape": opened.escape,
            },
        )

    def guest_sessions(self, ident: str, hypervisor: str | None = None) -> bytes:
        guest = self.access.current_guest(ident, hypervisor)
        return http.respond(200, self.sessions.describe(guest))

    def close_console(self, ident: str, hypervisor: str | None = None) -> bytes:
        body = http.json_body("serial_close")
        guest = self.access.current_guest(ident, hypervisor)
        self.access.require(guest, TAKEOVER)
        self.sessions.close(guest, body.get("device") or cherrypy.request.params.get("device"))
        return http.respond(204)

    def list_sessions(self) -> bytes:
        subject = subject_of(cherrypy.request.identity)
        sessions = self.sessions.describe()
        rights = self.access.rights
        visible = [s for s in sessions if rights.allows(subject, s["hypervisor"], s["guest"], VIEW)]
        return http.respond(200, visible)

    def _ws_url(self, token: str) -> str:
        """Where the client's browser opens the console."""
        return self.ws_url_prefix() + token

    def _page(self, guest: Guest, device: str, ws_url: str, mode: str, escape: str) -> str:
        """The console page; the WebSocket URL (token included) rides in the fragment,
        which browsers never send to a server or write to its logs. An escape key other
        than Ctrl+Q (the page's own default) is named, so the page shows the right one;
        with several hypervisors, the guest's one too, so the page's calls reach this guest
        (its name may exist on another hypervisor, the default one's included)."""
        query = f"guest={quote(guest.name, safe='')}&device={device}"
        if len(self.guests.names()) > 1:
            query += f"&hypervisor={quote(guest.hypervisor, safe='')}"
        if mode != consoles.WRITE:
            query += f"&mode={mode}"
        if escape != consoles.CTRL_Q_KEY:
            query += f"&escape={quote(escape, safe='')}"
        return f"{self.mount_point}/console.html?{query}#ws={quote(ws_url, safe='')}"
