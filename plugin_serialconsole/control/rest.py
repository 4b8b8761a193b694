"""The plugin's REST resources, mounted by the host at the plugin's mount point.

    GET    /vms                          every guest with state and console devices
    GET    /vms/<guest>                  one guest (by name, else UUID)
    POST   /vms/<guest>/start            start a shut-off guest with its consoles captured
    POST   /vms/<guest>/serial           a console token (writer or viewer): 201
    GET    /vms/<guest>/serial           the guest's console sessions
    DELETE /vms/<guest>/serial           end the guest's console session(s): 204
    GET    /vms/<guest>/serial/transcript  the recent output of a session, as a file
    GET    /vms/<guest>/serial/log       the capture log (?device=&since=&until=), as a file
                                         (&format=cast: as an asciicast v2 recording)
    GET    /vms/<guest>/recordings       the guest's recent console sessions (audit right)
    GET    /vms/<guest>/recordings/<id>  one session's recording, as an asciicast v2 file
    GET    /vms/<guest>/send             what may be sent to the guest besides typing
    POST   /vms/<guest>/send             send SysRq, NMI, Ctrl+Alt+Del, Break, a control key
    GET    /sessions                     open sessions
    GET    /hypervisors                  each hypervisor's name, URI (redacted), state
    GET    /audit                        the audit trail (?since=&until=&guest=&operator=&limit=)
    GET    /hypervisors/<hv>/vms         the guests of one hypervisor
    ...    /hypervisors/<hv>/vms/<guest>/...  each /vms/<guest> route, on that hypervisor

A guest named on two hypervisors (or a copy's UUID) is ambiguous (409) unless qualified.

Each call is checked against the rights policy (``rights``): a guest the operator may not
view answers 404, as one that does not exist; a missing right on a guest one may view, 403.

Routing is a small table (``routes``) rather than cherrypy's object tree: guest names are
data and may be anything, including the names of Python attributes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import cherrypy

from plugin_serialconsole import asciicast, audit, consoles, i18n
from plugin_serialconsole.audit import AuditTrail
from plugin_serialconsole.control import audit_query, http
from plugin_serialconsole.control.routes import GUEST, HYPERVISOR, find_route, raw_segments
from plugin_serialconsole.control.wsurl import WebSocketUrl
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity, PluginInfo
from plugin_serialconsole.model.capture_logs import CaptureLogs, parse_time
from plugin_serialconsole.model.captures import CaptureKeeper
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.model.recordings import Recordings, log_cast
from plugin_serialconsole.model.send import GuestSender
from plugin_serialconsole.rights import (
    AUDIT,
    CONSOLE,
    POWER,
    TAKEOVER,
    VIEW,
    Rights,
    ordered,
    subject_of,
)
from plugin_serialconsole.sendkeys import CONTROL, SendRequest

log = logging.getLogger(__name__)


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
        guests: Fleet,
        sessions: SessionManager,
        check_auth: Callable[[], Identity | None],
        sender: GuestSender,
        logs: CaptureLogs | None = None,
        captures: CaptureKeeper | None = None,
        rights: Rights | None = None,
        hypervisors: Callable[[], list[Any]] | None = None,
        trail: AuditTrail | None = None,
    ) -> None:
        self.settings = settings
        self.logs = logs
        self.recordings = Recordings(logs) if logs is not None else None
        self.captures = captures
        self.guests = guests
        self.sessions = sessions
        self.sender = sender
        self.check_auth = check_auth
        self.rights = rights or Rights()
        self.hypervisor_states = hypervisors or list
        self.audit = trail or AuditTrail()
        guest_routes: list[tuple[str, tuple, Callable[..., bytes]]] = [
            ("GET", ("vms", GUEST), self.show_guest),
            ("POST", ("vms", GUEST, "start"), self.start_guest),
            ("POST", ("vms", GUEST, "serial"), self.open_console),
            ("GET", ("vms", GUEST, "serial"), self.guest_sessions),
            ("DELETE", ("vms", GUEST, "serial"), self.close_console),
            ("GET", ("vms", GUEST, "serial", "transcript"), self.transcript),
            ("GET", ("vms", GUEST, "serial", "log"), self.capture_log),
            ("GET", ("vms", GUEST, "recordings"), self.list_recordings),
            ("GET", ("vms", GUEST, "recordings", GUEST), self.recording),
            ("GET", ("vms", GUEST, "send"), self.send_options),
            ("POST", ("vms", GUEST, "send"), self.send),
        ]
        self.routes: list[tuple[str, tuple, Callable[..., bytes]]] = [
            ("GET", (), self.index),
            ("GET", ("vms",), self.list_guests),
            *guest_routes,
            ("GET", ("sessions",), self.list_sessions),
            ("GET", ("hypervisors",), self.list_hypervisors),
            ("GET", ("audit",), self.audit_events),
            ("GET", ("hypervisors", HYPERVISOR, "vms"), self.list_guests),
            *[
                (method, ("hypervisors", HYPERVISOR, *pattern), handler)
                for method, pattern, handler in guest_routes
            ],
        ]

    @cherrypy.expose
    def default(self, *segments: str, **_params: str) -> bytes:
        method = cherrypy.request.method
        segments = raw_segments() or segments
        try:
            identity = self.check_auth()
            if identity is None:
                raise self._denied(None, SerialConsoleError(i18n.AUTHENTICATION_REQUIRED, 401))
            if not identity.csrf_ok:
                raise self._denied(identity, SerialConsoleError(i18n.CSRF_TOKEN_REQUIRED, 403))
            handler = find_route(self.routes, method, segments)
            cherrypy.request.identity = identity
            return handler()
        except SerialConsoleError as error:
            if error.status >= 500:
                log.error("%s %s: %s", method, cherrypy.request.path_info, error)
            return http.respond_error(error)
        except Exception:
            log.exception("%s %s failed", method, cherrypy.request.path_info)
            return http.respond_error(SerialConsoleError(i18n.INTERNAL_ERROR, 500))

    def index(self) -> bytes:
        info = self.settings.info
        return http.respond(
            200,
            {
                "name": info.name,
                "version": info.version,
                "links": {"vms": "vms", "sessions": "sessions", "hypervisors": "hypervisors"},
            },
        )

    def visible_guest(self, ident: str, hypervisor: str | None) -> Guest:
        """The guest ``ident`` names (on ``hypervisor``, if given), if the operator may view
        it; else 404."""
        return self.visible_among(ident, self.guests.candidates(ident, hypervisor))

    def visible_among(self, ident: str, candidates: list[Guest], right: str = VIEW) -> Guest:
        """The one of the guests ``ident`` names that the operator may view (or has
        ``right`` on): the others are dropped first, so an ambiguity (409) never names a
        guest they cannot see; 404 (recorded) if none is left."""
        subject = subject_of(cherrypy.request.identity)
        visible = [
            guest for guest in candidates if {VIEW, right} & self.rights.of(subject, guest.name)
        ]
        if not visible:
            self.require(candidates[0], right, ident)
        return self.guests.one_of(ident, visible)

    def require(self, guest: Guest, right: str, asked_as: str = "") -> None:
        """Raise unless the request's operator has ``right`` on ``guest`` (e.g. ``POWER``
        for starting it or sending it keys): 404 without ``view``, else 403."""
        identity = cherrypy.request.identity
        try:
            self.rights.require(identity, guest.name, right, asked_as)
        except SerialConsoleError as error:
            self.audit.guest_event(
                audit.DENIED, guest, identity, right=right, status=error.status, code=error.code
            )
            raise

    def _denied(self, identity: Identity | None, error: SerialConsoleError) -> SerialConsoleError:
        """``error``, a request refused before any guest is looked at, written to the audit
        trail with what was asked."""
        request = cherrypy.request
        self.audit.record(
            audit.DENIED,
            operator=identity.user if identity else None,
            client=audit.request_client(),
            login=audit.login_id(identity.session_digest) if identity else None,
            method=request.method,
            path=request.path_info,
            status=error.status,
            code=error.code,
        )
        return error

    def list_guests(self, hypervisor: str | None = None) -> bytes:
        subject = subject_of(cherrypy.request.identity)
        guests = self.guests.list(hypervisor)
        granted = [(guest, self.rights.of(subject, guest.name)) for guest in guests]
        return http.respond(200, self._guests_json([(g, r) for g, r in granted if VIEW in r]))

    def show_guest(self, ident: str, hypervisor: str | None = None) -> bytes:
        guest = self.visible_guest(ident, hypervisor)
        return http.respond(200, self._guests_json([self._granted(guest)])[0])

    def _granted(self, guest: Guest) -> tuple[Guest, frozenset[str]]:
        return guest, self.rights.of(subject_of(cherrypy.request.identity), guest.name)

    def _guests_json(self, granted: list[tuple[Guest, frozenset[str]]]) -> list[dict[str, Any]]:
        """The guests' JSON, with the operator's rights on each and, with capture logs, when
        each one's console log was last written."""
        docs = [{**guest.as_json(), "rights": ordered(rights)} for guest, rights in granted]
        if self.logs is None:
            return docs
        written = self.logs.last_written([guest for guest, _ in granted])
        return [{**doc, "log_written": written[(doc["hypervisor"], doc["uuid"])]} for doc in docs]

    def start_guest(self, ident: str, hypervisor: str | None = None) -> bytes:
        http.json_body("vm_start")
        guest = self.visible_guest(ident, hypervisor)
        self.require(guest, POWER)
        if self.captures is None:
            raise SerialConsoleError(i18n.METHOD_NOT_ALLOWED, 405, method="POST")
        self.guests.require_connected(guest)
        started, captured = self.captures.start_guest(guest)
        self.audit.guest_event(audit.START, started, cherrypy.request.identity, captured=captured)
        document = self._guests_json([self._granted(started)])[0]
        return http.respond(200, {**document, "captured": captured})

    def open_console(self, ident: str, hypervisor: str | None = None) -> bytes:
        body = http.json_body("serial_open")
        guest = self.visible_guest(ident, hypervisor)
        mode = body.get("mode", consoles.WRITE)
        if mode == consoles.WRITE:
            self.require(guest, CONSOLE)
        if body.get("force", False):
            self.require(guest, TAKEOVER)
        self.guests.require_connected(guest)
        opened = self.sessions.open(
            guest,
            body.get("device"),
            bool(body.get("force", False)),
            http.request_language(),
            self.rights.narrowed(cherrypy.request.identity),
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
                "expires_in": int(self.settings.token_ttl),
                "device": device,
                "mode": mode,
                "reattached": opened.reattached,
                "replay_bytes": opened.replay,
                "escape": opened.escape,
            },
        )

    def guest_sessions(self, ident: str, hypervisor: str | None = None) -> bytes:
        return http.respond(200, self.sessions.describe(self.visible_guest(ident, hypervisor)))

    def transcript(self, ident: str, hypervisor: str | None = None) -> bytes:
        query = {k: v for k, v in cherrypy.request.params.items() if k != "lang"}
        http.validate("serial_transcript", query)
        guest = self.visible_guest(ident, hypervisor)
        session, data = self.sessions.transcript(guest, query.get("device"))
        self._downloaded(guest, session.device.alias, "transcript", len(data))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = http.safe_filename(f"{guest.name}-{session.device.alias}-{stamp}", ".log")
        return http.respond_file(data, name)

    def capture_log(self, ident: str, hypervisor: str | None = None) -> bytes:
        query = {k: v for k, v in cherrypy.request.params.items() if k != "lang"}
        http.validate("serial_log", query)
        since, until = (
            parse_time("since", query.get("since")),
            parse_time("until", query.get("until")),
        )
        guest = self.visible_guest(ident, hypervisor)
        if self.logs is None:
            raise SerialConsoleError(i18n.LOG_NOT_FOUND, 404, guest=guest.name, device="")
        if query.get("format") == "cast":
            return self._log_cast(guest, query, since, until)
        tail = int(query["tail"]) if "tail" in query else None
        device, data = self.logs.read(guest, query.get("device"), since, until, tail)
        self._downloaded(guest, device, "log", len(data))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = http.safe_filename(f"{guest.name}-{device}-boot-log-{stamp}", ".log")
        return http.respond_file(data, name)

    def _log_cast(
        self, guest: Guest, query: dict[str, str], since: float | None, until: float | None
    ) -> Iterator[bytes]:
        if since is not None and until is not None and until < since:
            raise SerialConsoleError(i18n.LOG_BAD_RANGE, 400)
        device, lines = log_cast(self.logs, guest, query.get("device"), since, until)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = http.safe_filename(f"{guest.name}-{device}-boot-log-{stamp}", ".cast")
        return http.respond_stream(lines, name, asciicast.MEDIA_TYPE)

    def list_recordings(self, ident: str, hypervisor: str | None = None) -> bytes:
        guest = self.visible_guest(ident, hypervisor)
        self.require(guest, AUDIT)
        return http.respond(200, self.recordings.list(guest) if self.recordings else [])

    def recording(self, ident: str, session: str, hypervisor: str | None = None) -> Iterator[bytes]:
        guest = self.visible_guest(ident, hypervisor)
        self.require(guest, AUDIT)
        if self.recordings is None:
            raise SerialConsoleError(
                i18n.RECORDING_NOT_FOUND, 404, guest=guest.name, session=session
            )
        name, lines = self.recordings.cast(guest, session)
        return http.respond_stream(lines, http.safe_filename(name, ".cast"), asciicast.MEDIA_TYPE)

    def close_console(self, ident: str, hypervisor: str | None = None) -> bytes:
        body = http.json_body("serial_close")
        guest = self.visible_guest(ident, hypervisor)
        self.require(guest, TAKEOVER)
        self.sessions.close(guest, body.get("device") or cherrypy.request.params.get("device"))
        return http.respond(204)

    def send_options(self, ident: str, hypervisor: str | None = None) -> bytes:
        """What may be sent: only the actions the operator has the right for."""
        guest = self.visible_guest(ident, hypervisor)
        granted = self.rights.of(subject_of(cherrypy.request.identity), guest.name)
        options = self.sender.options()
        options["actions"] = [a for a in options["actions"] if _send_right(a) in granted]
        return http.respond(200, {"guest": guest.name, **options})

    def send(self, ident: str, hypervisor: str | None = None) -> bytes:
        request = SendRequest.from_json(http.json_body("vm_send"))
        guest = self.visible_guest(ident, hypervisor)
        self.require(guest, _send_right(request.action))
        self.guests.require_connected(guest)
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

    def _downloaded(self, guest: Guest, device: str, what: str, size: int) -> None:
        self.audit.guest_event(
            audit.DOWNLOAD, guest, cherrypy.request.identity, device=device, what=what, bytes=size
        )

    def audit_events(self) -> bytes:
        """The audit trail's events the operator has the ``audit`` right for."""
        query = {k: v for k, v in cherrypy.request.params.items() if k != "lang"}
        http.validate("audit_query", query)
        events = audit_query.AuditQuery(
            self.audit, self.rights, self.guests, self.visible_among
        ).answer(cherrypy.request.identity, query, self.require)
        return http.respond(200, events)

    def list_sessions(self) -> bytes:
        subject = subject_of(cherrypy.request.identity)
        sessions = self.sessions.describe()
        visible = [s for s in sessions if self.rights.allows(subject, s["guest"], VIEW)]
        return http.respond(200, visible)

    def list_hypervisors(self) -> bytes:
        """Each hypervisor as the host sees it now; never waits on one. A connected one's
        guest count is of its last listing (of the guests the operator may view, so it
        tells nothing of the others), else the count made when it connected; the host
        makes no call of its own for it (see ``host.connection``)."""
        subject = subject_of(cherrypy.request.identity)
        unrestricted = self.rights.everywhere(subject, VIEW)
        docs = [state.as_json() for state in self.hypervisor_states()]
        for doc in docs:
            listed = self.guests.last_listed(doc["name"])
            if doc["guests"] is None or (listed is None and unrestricted):
                continue
            visible = [g for g in listed or [] if self.rights.allows(subject, g.name, VIEW)]
            doc["guests"] = None if listed is None else len(visible)
        return http.respond(200, docs)

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

    def _page(self, guest: Guest, device: str, ws_url: str, mode: str, escape: str) -> str:
        """The console page; the WebSocket URL (token included) rides in the fragment,
        which browsers never send to a server or write to its logs. An escape key other
        than Ctrl+Q (the page's own default) is named, so the page shows the right one;
        with several hypervisors, the guest's one too, so the page's calls reach this guest
        (its name may exist on another hypervisor, the default one's included)."""
        mount = self.settings.info.mount_point
        query = f"guest={quote(guest.name, safe='')}&device={device}"
        if len(self.guests.names()) > 1:
            query += f"&hypervisor={quote(guest.hypervisor, safe='')}"
        if mode != consoles.WRITE:
            query += f"&mode={mode}"
        if escape != consoles.CTRL_Q_KEY:
            query += f"&escape={quote(escape, safe='')}"
        return f"{mount}/console.html?{query}#ws={quote(ws_url, safe='')}"


def _send_right(action: str) -> str:
    """A control key is typing into the console; everything else acts on the guest."""
    return CONSOLE if action == CONTROL else POWER
