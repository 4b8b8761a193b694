"""The standalone host: cherrypy server, plugins mounted at their mount points.

Plugins' start/stop hooks ride on the cherrypy engine, so SIGTERM or Ctrl+C stops them
(and everything they started) before the process exits.
"""

from __future__ import annotations

import configparser
import logging
from pathlib import Path
from typing import Any

import cherrypy
import libvirt
import pluggy
from cherrypy.process.plugins import Monitor, SimplePlugin

from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.host.auth_api import AuthApi, LoginAttempt
from plugin_serialconsole.host.connection import log_libvirt_errors
from plugin_serialconsole.host.forwarded import TrustedProxies
from plugin_serialconsole.host.gate import GateLimits
from plugin_serialconsole.host.hypervisors import Hypervisors
from plugin_serialconsole.host.login import (
    Authenticator,
    LoginEnded,
    LoginSessions,
    NoAuthentication,
)
from plugin_serialconsole.host.plugins import get_plugin_manager
from plugin_serialconsole.host.wsgiserver import GatedServer, limits_from_config
from plugin_serialconsole.hypervisor_uris import hypervisors_from_config
from plugin_serialconsole.netloc import url_host

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 128
USERS_FILE_CHECK_INTERVAL = 2.0  # seconds between looks for a changed users file


class StandaloneHost:
    """What plugins get from this host (see ``hookspecs.Host``)."""

    def __init__(
        self,
        config: configparser.ConfigParser,
        run_dir: Path,
        hypervisors: Hypervisors,
        authenticator: Authenticator | NoAuthentication,
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.logger = logging.getLogger("serialconsole.host")
        self._hypervisors = hypervisors
        self._authenticator = authenticator

    def connection(self) -> libvirt.virConnect:
        return self._hypervisors.default().get()

    def hypervisors(self) -> Hypervisors:
        return self._hypervisors

    def check_auth(self) -> Identity | None:
        request = cherrypy.request
        return self._authenticator.identify(request.method, request.headers, request.remote.ip)


class PluginLifecycle(SimplePlugin):
    """Runs the plugins' start/stop hooks on the engine's start/stop."""

    def __init__(self, bus, hook, host: StandaloneHost) -> None:
        super().__init__(bus)
        self.hook = hook
        self.host = host
        self.urls: list[str] = []

    def start(self) -> None:
        try:
            results = self.hook.wok_plugin_start(host=self.host)
        except Exception as error:
            log.error("a plugin failed to start: %s", error)
            raise
        self.urls = [url for urls in results for url in (urls or [])]

    def stop(self) -> None:
        self.hook.wok_plugin_stop(host=self.host)


def configure_cherrypy(server: configparser.SectionProxy, limits: GateLimits) -> None:
    cherrypy.config.update(
        {
            "server.socket_host": server.get("host"),
            "server.socket_port": server.getint("port"),
            "engine.autoreload.on": False,
            "checker.on": False,
            "log.screen": False,
            "request.show_tracebacks": False,
            "tools.trailing_slash.on": False,
            # Accepted connections wait in the gate, not here; a burst must not overflow it.
            "server.socket_queue_size": LISTEN_BACKLOG,
        }
    )
    # Connections reach cherrypy's worker threads only with a complete request (host.gate);
    # a reverse proxy speaks for many clients, so the per-address cap spares trusted ones.
    cherrypy.server.instance = GatedServer(cherrypy.server, limits)
    cherrypy.engine.signal_handler.handlers = {
        "SIGTERM": cherrypy.engine.exit,
        "SIGHUP": cherrypy.engine.exit,
        "SIGINT": cherrypy.engine.exit,
    }


def resolve_client_addresses(proxies: TrustedProxies) -> None:
    """``request.remote.ip`` becomes the client behind a trusted proxy (``host.forwarded``),
    for everything that reads it: login throttling, logs, plugins' auth checks."""

    def resolve() -> None:
        remote = cherrypy.request.remote
        remote.ip = proxies.client_address(remote.ip, cherrypy.request.headers)

    # before any handler, like cherrypy's own tools.proxy (which trusts every peer)
    cherrypy.tools.client_address = cherrypy.Tool("on_start_resource", resolve, priority=10)
    cherrypy.config.update({"tools.client_address.on": True})


def mount_plugins(manager: pluggy.PluginManager, host: StandaloneHost) -> list[str]:
    mounted = []
    for app in manager.hook.wok_plugin_app(host=host):
        cherrypy.tree.mount(app.root, app.mount_point, app.config)
        mounted.append(app.mount_point)
    return mounted


def make_auth(
    server: configparser.SectionProxy, login_ended: LoginEnded, login_attempt: LoginAttempt
) -> tuple[Any, AuthApi]:
    """The authenticator plugins ask, and the ``/auth`` endpoints, for ``[server] auth``;
    with operators, the engine also looks for a changed users file every few seconds."""
    if server["auth"] == "none":
        log.warning("authentication is off (--auth none): every local user is an operator")
        return NoAuthentication(), AuthApi(None, None)
    sessions = LoginSessions(server.getfloat("session_timeout"))
    authenticator = Authenticator(Path(server["users_file"]), sessions, login_ended)
    check = authenticator.check_users
    Monitor(cherrypy.engine, check, USERS_FILE_CHECK_INTERVAL, name="users file").subscribe()
    return authenticator, AuthApi(authenticator, sessions, login_attempt)


def tell_login_ended(hook, host: StandaloneHost, user: str, login_digest: str | None) -> None:
    """Tell the plugins a login ended (``wok_login_ended``); a plugin's failure is logged,
    not raised into the logout or the users file's monitor thread."""
    try:
        hook.wok_login_ended(host=host, user=user, login_digest=login_digest)
    except Exception:
        log.exception("a plugin failed to end the consoles of operator %s", user)


def tell_login_attempt(
    hook, host: StandaloneHost, user: str, outcome: str, client: str, login_digest: str | None
) -> None:
    """Tell the plugins of a login attempt (``wok_login_attempt``); a plugin's failure is
    logged, not raised into the login."""
    try:
        hook.wok_login_attempt(
            host=host, user=user, outcome=outcome, client=client, login_digest=login_digest
        )
    except Exception:
        log.exception("a plugin failed to note a login attempt of operator %r", user)


def serve(config: configparser.ConfigParser, run_dir: Path, announce) -> int:
    """Run until SIGTERM/SIGINT; ``announce(urls)`` is called once the server listens."""
    server = config["server"]
    uris = hypervisors_from_config(config)
    log_libvirt_errors(uris.values())
    # an unreachable hypervisor is logged; its guests' calls answer 503 until it answers
    hypervisors = Hypervisors(uris)
    hypervisors.start()
    manager = get_plugin_manager()
    if not manager.get_plugins():
        log.error("no plugins found in entry-point group wok.plugins; is the package installed?")
        hypervisors.stop()
        return 1

    def login_ended(user: str, login_digest: str | None) -> None:
        tell_login_ended(manager.hook, host, user, login_digest)  # ``host`` is made below

    def login_attempt(user: str, outcome: str, client: str, login_digest: str | None) -> None:
        tell_login_attempt(manager.hook, host, user, outcome, client, login_digest)

    authenticator, auth_api = make_auth(server, login_ended, login_attempt)
    host = StandaloneHost(config, run_dir, hypervisors, authenticator)
    proxies = TrustedProxies.parse(server["trusted_proxies"])  # checked by host.config
    configure_cherrypy(server, limits_from_config(server, proxies))
    resolve_client_addresses(proxies)
    try:
        mount_points = mount_plugins(manager, host)
    except ValueError as error:
        log.error("configuration refused by a plugin: %s", error)
        hypervisors.stop()
        return 2
    cherrypy.tree.mount(auth_api, "/auth", {"/": {"tools.encode.on": False}})
    lifecycle = PluginLifecycle(cherrypy.engine, manager.hook, host)
    lifecycle.subscribe()
    cherrypy.engine.signal_handler.subscribe()
    # A failing start listener makes cherrypy log it and exit with status 70.
    cherrypy.engine.start()
    bound_host, bound_port = cherrypy.server.bound_addr[:2]
    urls = [f"http://{url_host(bound_host)}:{bound_port}{mount}/" for mount in mount_points]
    announce(urls + lifecycle.urls)
    cherrypy.engine.block()
    hypervisors.stop()
    return 0
