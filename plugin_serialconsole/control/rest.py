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
data and may be anything, including the names of Python attributes. Each route's handler
lives with its kind: ``fleet_routes`` (guests, hypervisors), ``console_routes`` (console
sessions), ``log_routes`` (transcripts, capture logs, recordings), ``send_routes`` and
``audit_query``; ``guest_access`` decides what the operator may see and do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cherrypy

from plugin_serialconsole import audit, i18n
from plugin_serialconsole.audit import AuditTrail
from plugin_serialconsole.control import http
from plugin_serialconsole.control.audit_query import AuditQuery
from plugin_serialconsole.control.console_routes import ConsoleRoutes
from plugin_serialconsole.control.fleet_routes import FleetRoutes
from plugin_serialconsole.control.guest_access import GuestAccess
from plugin_serialconsole.control.log_routes import LogRoutes
from plugin_serialconsole.control.routes import GUEST, HYPERVISOR, Route, find_route, raw_segments
from plugin_serialconsole.control.send_routes import SendRoutes
from plugin_serialconsole.control.wsurl import WebSocketUrl
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity, PluginInfo
from plugin_serialconsole.model.capture_logs import CaptureLogs
from plugin_serialconsole.model.captures import CaptureKeeper
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.send import GuestSender
from plugin_serialconsole.rights import Rights

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
        self.check_auth = check_auth
        self.audit = trail or AuditTrail()
        access = GuestAccess(guests, rights or Rights(), self.audit)
        self.fleet = FleetRoutes(access, guests, self.audit, logs, captures, hypervisors or list)
        self.consoles = ConsoleRoutes(
            access,
            guests,
            sessions,
            self.ws_url_prefix,
            settings.token_ttl,
            settings.info.mount_point,
        )
        self.logs = LogRoutes(access, sessions, logs, self.audit)
        self.sends = SendRoutes(access, guests, sessions, sender, self.audit)
        self.audit_query = AuditQuery(self.audit, access)
        self.routes = self._routes()

    def _routes(self) -> list[Route]:
        """Every route, each /vms/<guest> one also under /hypervisors/<hv>."""
        per_guest: list[Route] = [
            ("GET", ("vms", GUEST), self.fleet.show_guest),
            ("POST", ("vms", GUEST, "start"), self.fleet.start_guest),
            ("POST", ("vms", GUEST, "serial"), self.consoles.open_console),
            ("GET", ("vms", GUEST, "serial"), self.consoles.guest_sessions),
            ("DELETE", ("vms", GUEST, "serial"), self.consoles.close_console),
            ("GET", ("vms", GUEST, "serial", "transcript"), self.logs.transcript),
            ("GET", ("vms", GUEST, "serial", "log"), self.logs.capture_log),
            ("GET", ("vms", GUEST, "recordings"), self.logs.list_recordings),
            ("GET", ("vms", GUEST, "recordings", GUEST), self.logs.recording),
            ("GET", ("vms", GUEST, "send"), self.sends.send_options),
            ("POST", ("vms", GUEST, "send"), self.sends.send),
        ]
        return [
            ("GET", (), self.index),
            ("GET", ("vms",), self.fleet.list_guests),
            *per_guest,
            ("GET", ("sessions",), self.consoles.list_sessions),
            ("GET", ("hypervisors",), self.fleet.list_hypervisors),
            ("GET", ("audit",), self.audit_query.events),
            ("GET", ("hypervisors", HYPERVISOR, "vms"), self.fleet.list_guests),
            *[
                (method, ("hypervisors", HYPERVISOR, *pattern), handler)
                for method, pattern, handler in per_guest
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

    def ws_url_prefix(self) -> str:
        """Every console URL this request's client is handed: this, then a token. It is
        the ``websocket_url`` template filled in with the host the client used to reach
        us (see ``wsurl``)."""
        return self.settings.websocket_url.prefix(
            cherrypy.request.headers.get("Host"),
            self.settings.listen_host,
            self.settings.ws_port(),
        )
