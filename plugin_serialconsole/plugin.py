"""The serialconsole plugin: the hook implementations the host calls."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from plugin_serialconsole import audit, languages
from plugin_serialconsole.audit import AuditTrail, make_audit_trail
from plugin_serialconsole.bridge.runner import WebsockifyBridge
from plugin_serialconsole.bridge.tokens import TokenStore
from plugin_serialconsole.control import http
from plugin_serialconsole.control.rest import ApiSettings, RestApi
from plugin_serialconsole.control.root import PluginRoot
from plugin_serialconsole.control.ui import UiFiles, find_ui_dir, report_unbuilt
from plugin_serialconsole.hookspecs import Host, PluginApp, PluginInfo, Tab, hookimpl
from plugin_serialconsole.host.forwarded import TrustedProxies
from plugin_serialconsole.ids import check_socket_dir
from plugin_serialconsole.model.capture_logs import CaptureLogs, prepare_state_dir
from plugin_serialconsole.model.captures import CaptureKeeper
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.fleet import Fleet, members_of
from plugin_serialconsole.model.hypervisor_loss import HypervisorLoss
from plugin_serialconsole.model.send import GuestSender
from plugin_serialconsole.netloc import url_host
from plugin_serialconsole.proxy_audit import ProxyRefusals
from plugin_serialconsole.rights import Rights
from plugin_serialconsole.rundir import check_private_dir, remove_sockets
from plugin_serialconsole.settings import SECTION, Settings
from plugin_serialconsole.supervisor.launcher import ConsoleLauncher

log = logging.getLogger(__name__)

NAME = SECTION  # the plugin's name is its config section's
MOUNT_POINT = "/plugins/serialconsole"


def _version() -> str:
    try:
        return version("plugin_serialconsole")
    except PackageNotFoundError:
        return "0+unknown"


class SerialConsolePlugin:
    """One instance per host; everything it starts, it stops."""

    def __init__(self) -> None:
        self.bridge: WebsockifyBridge | None = None
        self.launcher: ConsoleLauncher | None = None
        self.sessions: SessionManager | None = None
        self.captures: CaptureKeeper | None = None
        self.hypervisor_loss: HypervisorLoss | None = None
        self.fleet: Fleet | None = None
        self.tokens: TokenStore | None = None
        self.sockets_dir: Path | None = None
        self.audit = AuditTrail()  # nowhere, until the app is made with its settings

    @hookimpl
    def wok_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=NAME,
            version=_version(),
            mount_point=MOUNT_POINT,
            gettext_domain=languages.DOMAIN,
            tabs=(Tab(title="Serial console", path=f"{MOUNT_POINT}/"),),
        )

    @hookimpl
    def wok_plugin_app(self, host: Host) -> PluginApp:
        server = host.config["server"]  # host, ws_port: the host's, see hookspecs.Host
        settings = Settings.from_config(host.config)
        self.sockets_dir = host.run_dir / "consoles"
        check_socket_dir(self.sockets_dir)
        check_private_dir(host.run_dir)
        check_private_dir(self.sockets_dir, create=True)
        self.tokens = TokenStore(host.run_dir / "tokens").open(create=True)
        if settings.capture.enabled:
            prepare_state_dir(settings.capture)
        self.audit = make_audit_trail(settings.audit, settings.capture.state_dir)
        hypervisors = host.hypervisors()
        self.fleet = guests = Fleet(members_of(hypervisors))
        self.launcher = ConsoleLauncher(self.sockets_dir)
        self.sessions = SessionManager(
            guests, self.tokens, settings, guests.uris, self.sockets_dir, self.launcher, self.audit
        )
        # the proxy's refusals: their clients resolved as the host resolves a request's
        proxies = TrustedProxies.parse(server.get("trusted_proxies", ""))
        self.bridge = WebsockifyBridge(
            server["host"],
            server.getint("ws_port"),
            self.tokens.directory,
            self.sockets_dir,
            settings.allowed_origins,
            settings.websocket_limits,
            settings.rights_file,
            ProxyRefusals(self.audit, self.sessions, proxies),
        )
        sender = GuestSender(
            guests.connection,
            self.sessions,
            settings.allow_break,
            simulated=guests.is_mock,
            calls=guests.calls,
            uris=guests.uris.__getitem__,
        )
        connections = {name: hypervisors.get(name).get for name in hypervisors.names()}
        settings.capture.report_unmatched(guests.names())
        self.captures = CaptureKeeper(guests, self.sessions, settings.capture, connections)
        api = RestApi(
            ApiSettings(
                self.wok_plugin_info(),
                server["host"],
                lambda: self.bridge.port,
                settings.console.token_ttl,
                settings.websocket_url,
            ),
            guests,
            self.sessions,
            host.check_auth,
            sender,
            CaptureLogs(settings.capture.logs_dir),
            self.captures,
            Rights.from_path(settings.rights_file, guests.names()),
            host.hypervisors().states,
            self.audit,
        )
        ui_dir = find_ui_dir(settings.ui_dir)
        report_unbuilt(ui_dir)
        root = PluginRoot(api, UiFiles(ui_dir, api.ws_url_prefix))
        config = {
            "/": {
                "request.process_request_body": False,
                "error_page.default": http.cherrypy_error_page,
                "tools.encode.on": False,
            }
        }
        return PluginApp(MOUNT_POINT, root, config)

    @hookimpl
    def wok_plugin_start(self, host: Host) -> list[str]:
        self._prepare_run_dir()
        self.launcher.start()
        self.bridge.start()
        self.captures.start()
        self.hypervisor_loss = HypervisorLoss(self.sessions)
        host.hypervisors().add_listener(self.hypervisor_loss.changed)
        url = f"ws://{url_host(self.bridge.host)}:{self.bridge.port}/"
        host.logger.info("serial consoles: WebSocket proxy on %s", url)
        return [url]

    def _prepare_run_dir(self) -> None:
        """Sockets and tokens left by an earlier, killed host are swept."""
        stale = remove_sockets(self.sockets_dir)
        self.tokens.clear()
        if stale:
            log.info("removed %d stale console sockets from %s", stale, self.sockets_dir)

    @hookimpl
    def wok_login_ended(self, host: Host, user: str, login_digest: str | None) -> None:
        """The login's unused console tokens are revoked and its clients sent away."""
        if login_digest is not None:
            self.audit.login_event(audit.LOGOUT, user, audit.request_client(), login_digest)
        else:  # the operator left the users file: every login of theirs ends
            self.audit.record(audit.LOGOUT, operator=user, reason=audit.REMOVED)
        if self.sessions is not None:
            self.sessions.end_login(user, login_digest)

    @hookimpl
    def wok_login_attempt(
        self, host: Host, user: str, outcome: str, client: str, login_digest: str | None
    ) -> None:
        event = audit.LOGIN_EVENTS.get(outcome, audit.LOGIN_FAILED)
        self.audit.login_event(event, user, client, login_digest)

    @hookimpl
    def wok_plugin_stop(self, host: Host) -> None:
        if self.hypervisor_loss is not None:
            host.hypervisors().remove_listener(self.hypervisor_loss.changed)
        if self.captures is not None:
            self.captures.stop()
        if self.sessions is not None:
            self.sessions.stop_all()
        if self.fleet is not None:
            self.fleet.stop()
        if self.launcher is not None:
            self.launcher.stop()
        if self.bridge is not None:
            self.bridge.stop()
        if self.tokens is not None:
            self.tokens.close()
        self.audit.close()
