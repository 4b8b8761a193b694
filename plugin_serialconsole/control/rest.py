"""The plugin's REST resources, mounted by the host at the plugin's mount point.

    GET    /vms                          every guest with state and console devices
    GET    /vms/<guest>                  one guest (by name, else UUID)
    POST   /vms/<guest>/start            start a shut-off guest with its consoles captured
    POST   /vms/<guest>/serial           a console token (writer or viewer): 201
    GET    /vms/<guest>/serial           the guest's console sessions
    DELETE /vms/<guest>/serial           end the guest's console session(s): 204
    GET    /vms/<guest>/serial/transcript  the recent output of a session, as a file
    GET    /vms/<guest>/serial/log       the capture log (?device=&since=&until=), as a file
    GET    /sessions                     open sessions

Routing is a small table rather than cherrypy's object tree: guest names are data and may
be anything, including the names of Python attributes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import cherrypy

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.control import http
from plugin_serialconsole.control.wsurl import WebSocketUrl
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity, PluginInfo
from plugin_serialconsole.model.capture_logs import CaptureLogs, parse_time
from plugin_serialconsole.model.captures import CaptureKeeper
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.guests import GuestModel

log = logging.getLogger(__name__)

GUEST = object()  # placeholder for the guest segment in a route


@dataclass(frozen=True)
class ApiSettings:
    info: PluginInfo
    listen_host: str
    ws_port: Callable[[], int]
    token_ttl: float
    websocket_url: WebSocketUrl = WebSocketUrl()


class RestApi:
    """cherrypy root: every request goes through ``default`` and the route table."""

    def __init__(
        self,
        settings: ApiSettings,
        guests: GuestModel,
        sessions: SessionManager,
        check_auth: Callable[[], Identity | None],
        logs: CaptureLogs | None = None,
        captures: CaptureKeeper | None = None,
    ) -> None:
        self.settings = settings
        self.logs = logs
        self.captures = captures
        self.guests = guests
        self.sessions = sessions
        self.check_auth = check_auth
        self.routes: list[tuple[str, tuple, Callable[..., bytes]]] = [
            ("GET", (), self.index),
            ("GET", ("vms",), self.list_guests),
            ("GET", ("vms", GUEST), self.show_guest),
            ("POST", ("vms", GUEST, "start"), self.start_guest),
            ("POST", ("vms", GUEST, "serial"), self.open_console),
            ("GET", ("vms", GUEST, "serial"), self.guest_sessions),
            ("DELETE", ("vms", GUEST, "serial"), self.close_console),
            ("GET", ("vms", GUEST, "serial", "transcript"), self.transcript),
            ("GET", ("vms", GUEST, "serial", "log"), self.capture_log),
            ("GET", ("sessions",), self.list_sessions),
        ]

    @cherrypy.expose
    def default(self, *segments: str, **_params: str) -> bytes:
        method = cherrypy.request.method
        segments = raw_segments() or segments
        try:
            identity = self.check_auth()
            if identity is None:
                raise SerialConsoleError(i18n.AUTHENTICATION_REQUIRED, 401)
            if not identity.csrf_ok:
                raise SerialConsoleError(i18n.CSRF_TOKEN_REQUIRED, 403)
            handler, args = self._route(method, segments)
            cherrypy.request.identity = identity
            return handler(*args)
        except SerialConsoleError as error:
            if error.status >= 500:
                log.error("%s %s: %s", method, cherrypy.request.path_info, error)
            return http.respond_error(error)
        except Exception:
            log.exception("%s %s failed", method, cherrypy.request.path_info)
            return http.respond_error(SerialConsoleError(i18n.INTERNAL_ERROR, 500))

    def _route(self, method: str, segments: tuple[str, ...]):
        allowed = []
        for route_method, pattern, handler in self.routes:
            args = _match(pattern, segments)
            if args is None:
                continue
            if route_method == method:
                return handler, args
            allowed.append(route_method)
        if allowed:
            cherrypy.response.headers["Allow"] = ", ".join(allowed)
            raise SerialConsoleError(i18n.METHOD_NOT_ALLOWED, 405, method=method)
        raise SerialConsoleError(i18n.RESOURCE_NOT_FOUND, 404, path=cherrypy.request.path_info)

    def index(self) -> bytes:
        info = self.settings.info
        return http.respond(
            200,
            {
                "name": info.name,
                "version": info.version,
                "links": {"vms": "vms", "sessions": "sessions"},
            },
        )

    def list_guests(self) -> bytes:
        return http.respond(200, self._guests_json(self.guests.list()))

    def show_guest(self, ident: str) -> bytes:
        return http.respond(200, self._guests_json([self.guests.lookup(ident)])[0])

    def _guests_json(self, guests: list) -> list[dict[str, Any]]:
        """The guests' JSON, with when each one's console log was last written."""
        if self.logs is None:
            return [guest.as_json() for guest in guests]
        written = self.logs.last_written(guests)
        return [{**guest.as_json(), "log_written": written[guest.uuid]} for guest in guests]

    def start_guest(self, ident: str) -> bytes:
        http.json_body("vm_start")
        guest = self.guests.lookup(ident)
        # rights: power — the operator's right to power this guest is checked here.
        if self.captures is None:
            raise SerialConsoleError(i18n.METHOD_NOT_ALLOWED, 405, method="POST")
        started, captured = self.captures.start_guest(guest)
        return http.respond(200, {**self._guests_json([started])[0], "captured": captured})

    def open_console(self, ident: str) -> bytes:
        body = http.json_body("serial_open")
        guest = self.guests.lookup(ident)
        mode = body.get("mode", consoles.WRITE)
        opened = self.sessions.open(
            guest,
            body.get("device"),
            bool(body.get("force", False)),
            http.request_language(),
            cherrypy.request.identity,
            mode,
        )
        device = opened.session.device.alias
        ws_url = self._ws_url(opened.token.token)
        return http.respond(
            201,
            {
                "token": opened.token.token,
                "ws_url": ws_url,
                "page": self._page(guest.name, device, ws_url, mode),
                "expires_in": int(self.settings.token_ttl),
                "device": device,
                "mode": mode,
                "reattached": opened.reattached,
                "replay_bytes": opened.replay,
            },
        )

    def guest_sessions(self, ident: str) -> bytes:
        return http.respond(200, self.sessions.describe(self.guests.lookup(ident)))

    def transcript(self, ident: str) -> bytes:
        query = {k: v for k, v in cherrypy.request.params.items() if k != "lang"}
        http.validate("serial_transcript", query)
        guest = self.guests.lookup(ident)
        session, data = self.sessions.transcript(guest, query.get("device"))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = http.safe_filename(f"{guest.name}-{session.device.alias}-{stamp}", ".log")
        return http.respond_file(data, name)

    def capture_log(self, ident: str) -> bytes:
        query = {k: v for k, v in cherrypy.request.params.items() if k != "lang"}
        http.validate("serial_log", query)
        since, until = (
            parse_time("since", query.get("since")),
            parse_time("until", query.get("until")),
        )
        guest = self.guests.lookup(ident)
        if self.logs is None:
            raise SerialConsoleError(i18n.LOG_NOT_FOUND, 404, guest=guest.name, device="")
        device, data = self.logs.read(guest, query.get("device"), since, until)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = http.safe_filename(f"{guest.name}-{device}-boot-log-{stamp}", ".log")
        return http.respond_file(data, name)

    def close_console(self, ident: str) -> bytes:
        body = http.json_body("serial_close")
        guest = self.guests.lookup(ident)
        self.sessions.close(guest, body.get("device") or cherrypy.request.params.get("device"))
        return http.respond(204)

    def list_sessions(self) -> bytes:
        return http.respond(200, self.sessions.describe())

    def ws_url_prefix(self) -> str:
        """Every console URL this request's client is handed: this, then a token. It is
        the ``websocket_url`` template filled in with the host the client used to reach
        us (see ``wsurl``)."""
        return self.settings.websocket_url.prefix(
            cherrypy.request.headers.get("Host"),
            self.settings.listen_host,
            self.settings.ws_port(),
        )

    def _ws_url(self, token: str) -> str:
        """Where the client's browser opens the console."""
        return self.ws_url_prefix() + token

    def _page(self, guest: str, device: str, ws_url: str, mode: str) -> str:
        """The console page; the WebSocket URL (token included) rides in the fragment,
        which browsers never send to a server or write to its logs."""
        mount = self.settings.info.mount_point
        query = f"guest={quote(guest, safe='')}&device={device}"
        if mode != consoles.WRITE:
            query += f"&mode={mode}"
        return f"{mount}/console.html?{query}#ws={quote(ws_url, safe='')}"


def raw_segments() -> tuple[str, ...] | None:
    """The path after the mount point, split first and then percent-decoded once.

    cherrypy decodes before splitting and turns a literal ``%2F`` into ``/`` as well, so a
    guest named ``a%2Fb`` or ``%2F`` would be looked up as another name.
    """
    request = cherrypy.request
    raw = request.wsgi_environ.get("REQUEST_URI")
    if raw is None:
        return None
    path = urlsplit(raw).path
    if not path.startswith(request.script_name):
        return None
    path = path[len(request.script_name) :]
    return tuple(unquote(segment, errors="replace") for segment in path.split("/") if segment)


def _match(pattern: tuple, segments: tuple[str, ...]) -> list[Any] | None:
    if len(pattern) != len(segments):
        return None
    args = []
    for expected, segment in zip(pattern, segments, strict=True):
        if expected is GUEST:
            args.append(segment)
        elif expected != segment:
            return None
    return args
