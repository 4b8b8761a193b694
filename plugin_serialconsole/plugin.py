"""The serialconsole plugin: the hook implementations the host calls."""

from __future__ import annotations

import configparser
import logging
import math
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from plugin_serialconsole import i18n
from plugin_serialconsole.bridge.accept import HandlerLimits
from plugin_serialconsole.bridge.runner import WebsockifyBridge
from plugin_serialconsole.bridge.tokens import TokenStore
from plugin_serialconsole.control import http
from plugin_serialconsole.control.rest import ApiSettings, RestApi
from plugin_serialconsole.control.root import PluginRoot
from plugin_serialconsole.control.ui import UiFiles, find_ui_dir, report_unbuilt
from plugin_serialconsole.control.wsurl import DEFAULT_TEMPLATE, WebSocketUrl
from plugin_serialconsole.hookspecs import Host, PluginApp, PluginInfo, Tab, hookimpl
from plugin_serialconsole.ids import check_socket_dir
from plugin_serialconsole.model.guests import make_guest_model
from plugin_serialconsole.model.launcher import ConsoleLauncher
from plugin_serialconsole.model.sessions import SessionManager, SessionSettings
from plugin_serialconsole.netloc import url_host
from plugin_serialconsole.rundir import check_private_dir, remove_sockets

log = logging.getLogger(__name__)

NAME = "serialconsole"
MOUNT_POINT = "/plugins/serialconsole"
# The plugin's section, [serialconsole], and its defaults: the only place they are set.
DEFAULTS = {
    "token_ttl": "60",
    "idle_timeout": "1800",
    "allowed_origins": "",
    "websocket_url": DEFAULT_TEMPLATE,
    "max_ws_handlers": "128",
    "ws_handshake_timeout": "5",
    "max_sessions": "100",
    "reattach_grace": "60",
    "ring_size": "262144",
    "max_viewers": "10",
    "ui_dir": "",
}
MIN_RING_SIZE = 4096
MAX_RING_SIZE = 64 * 1024 * 1024


def _version() -> str:
    try:
        return version("plugin_serialconsole")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class Settings:
    """The plugin's own config section, with defaults, as typed values."""

    token_ttl: float
    idle_timeout: float
    allowed_origins: tuple[str, ...]
    websocket_url: WebSocketUrl
    max_sessions: int
    websocket_limits: HandlerLimits
    reattach_grace: float = 60.0
    ring_size: int = 262144
    max_viewers: int = 10
    ui_dir: str = ""

    @classmethod
    def from_config(cls, config: configparser.ConfigParser) -> Settings:
        given = dict(config[NAME]) if config.has_section(NAME) else {}
        section = {**DEFAULTS, **{key: value for key, value in given.items() if value.strip()}}
        token_ttl = _number(section, "token_ttl")
        idle_timeout = _number(section, "idle_timeout")
        max_sessions = _number(section, "max_sessions")
        if token_ttl <= 0 or idle_timeout < 0 or max_sessions < 1 or max_sessions % 1:
            raise ValueError(
                f"[{NAME}] token_ttl must be > 0, idle_timeout >= 0 and max_sessions a "
                "whole number >= 1"
            )
        origins = tuple(o for o in section["allowed_origins"].replace(",", " ").split() if o)
        return cls(
            token_ttl,
            idle_timeout,
            origins,
            WebSocketUrl(section["websocket_url"]),
            int(max_sessions),
            _websocket_limits(section),
            *_reattach_settings(section),
            section["ui_dir"].strip(),
        )


def _websocket_limits(section: dict[str, str]) -> HandlerLimits:
    max_handlers = _number(section, "max_ws_handlers")
    handshake_timeout = _number(section, "ws_handshake_timeout")
    if max_handlers < 1 or max_handlers % 1:
        raise ValueError(f"[{NAME}] max_ws_handlers must be a whole number >= 1")
    if handshake_timeout <= 0:
        raise ValueError(f"[{NAME}] ws_handshake_timeout must be > 0 (seconds)")
    return HandlerLimits(int(max_handlers), handshake_timeout)


def _reattach_settings(section: dict[str, str]) -> tuple[float, int, int]:
    grace = _number(section, "reattach_grace")
    ring_size = _number(section, "ring_size")
    max_viewers = _number(section, "max_viewers")
    if grace < 0:
        raise ValueError(f"[{NAME}] reattach_grace must be >= 0 (seconds)")
    if not MIN_RING_SIZE <= ring_size <= MAX_RING_SIZE or ring_size % 1:
        raise ValueError(
            f"[{NAME}] ring_size must be a whole number of bytes from {MIN_RING_SIZE} "
            f"to {MAX_RING_SIZE}"
        )
    if max_viewers < 0 or max_viewers % 1:
        raise ValueError(f"[{NAME}] max_viewers must be a whole number >= 0")
    return grace, int(ring_size), int(max_viewers)


def _number(section: dict[str, str], key: str) -> float:
    try:
        value = float(section[key])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"[{NAME}] {key}: not a number: {section[key]!r}")
    return value


class SerialConsolePlugin:
    """One instance per host; everything it starts, it stops."""

    def __init__(self) -> None:
        self.bridge: WebsockifyBridge | None = None
        self.launcher: ConsoleLauncher | None = None
        self.sessions: SessionManager | None = None
        self.tokens: TokenStore | None = None
        self.sockets_dir: Path | None = None

    @hookimpl
    def wok_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=NAME,
            version=_version(),
            mount_point=MOUNT_POINT,
            gettext_domain=i18n.DOMAIN,
            tabs=(Tab(title="Serial console", path=f"{MOUNT_POINT}/"),),
        )

    @hookimpl
    def wok_plugin_app(self, host: Host) -> PluginApp:
        server = host.config["server"]  # host, ws_port, uri: the host's, see hookspecs.Host
        settings = Settings.from_config(host.config)
        self.sockets_dir = host.run_dir / "consoles"
        check_socket_dir(self.sockets_dir)
        check_private_dir(host.run_dir)
        check_private_dir(self.sockets_dir, create=True)
        self.tokens = TokenStore(host.run_dir / "tokens").open(create=True)
        self.bridge = WebsockifyBridge(
            server["host"],
            server.getint("ws_port"),
            self.tokens.directory,
            self.sockets_dir,
            settings.allowed_origins,
            settings.websocket_limits,
        )
        uri = server["uri"]
        guests = make_guest_model(uri, host.connection)
        self.launcher = ConsoleLauncher(self.sockets_dir)
        self.sessions = SessionManager(
            guests,
            self.tokens,
            SessionSettings(
                uri,
                self.sockets_dir,
                settings.token_ttl,
                settings.idle_timeout,
                settings.max_sessions,
                settings.reattach_grace,
                settings.ring_size,
                settings.max_viewers,
            ),
            self.launcher,
        )
        api = RestApi(
            ApiSettings(
                self.wok_plugin_info(),
                server["host"],
                lambda: self.bridge.port,
                settings.token_ttl,
                settings.websocket_url,
            ),
            guests,
            self.sessions,
            host.check_auth,
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
    def wok_plugin_stop(self, host: Host) -> None:
        if self.sessions is not None:
            self.sessions.stop_all()
        if self.launcher is not None:
            self.launcher.stop()
        if self.bridge is not None:
            self.bridge.stop()
        if self.tokens is not None:
            self.tokens.close()
