"""What Wok mounts at ``/plugins/serialconsole``: the plugin's root, dressed as Wok expects.

Mirrors what Wok does with a plugin (``src/wok/utils.py`` ``load_plugin``; ``src/wok/root.py``
``Root``/``WokRoot``; ``src/wok/plugins/sample/root.py``): Wok instantiates
``Serialconsole(options)``, updates its ``PluginConfig`` with ``get_custom_conf()`` and
mounts the object; every mounted root is read for ``extends``, ``domain``, ``messages``,
``paths`` and ``depends`` (Wok's ``/login.html`` fails without ``extends``). The plugin's
start and stop hooks ride on Wok's cherrypy engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cherrypy
from cherrypy.process.plugins import SimplePlugin

from plugin_serialconsole import i18n, languages
from plugin_serialconsole.control import http
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import PluginApp
from plugin_serialconsole.host.connection import log_libvirt_errors
from plugin_serialconsole.host.plugins import get_plugin_manager
from plugin_serialconsole.hypervisor_uris import hypervisors_from_config, redact_uri
from plugin_serialconsole.plugin import NAME, SerialConsolePlugin
from plugin_serialconsole.rundir import prepare_run_dir
from plugin_serialconsole.wok.activity_log import ActivityLog
from plugin_serialconsole.wok.host import WokHost, load_config
from plugin_serialconsole.wok.identity import needs_csrf_header
from plugin_serialconsole.wok.logout import LogoutWatch

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TAB_PAGE = "serialconsole.html"  # tab-ext.xml: plugins/serialconsole/tabs/serialconsole.html


@dataclass(frozen=True)
class WokPaths:
    """The part of Wok's ``PluginPaths`` Wok reads from a mounted root: where the gettext
    catalogs of ``domain`` are (to translate ``messages`` in its activity log)."""

    mo_dir: str
    ui_dir: str
    conf_file: str


class Lifecycle(SimplePlugin):
    """The plugin's start/stop hooks, the activity log and the logout watch, on Wok's
    engine."""

    def __init__(self, bus: Any, hook: Any, host: WokHost, activity: ActivityLog) -> None:
        super().__init__(bus)
        self.hook = hook
        self.host = host
        self.activity = activity
        self.logout = LogoutWatch(self._login_ended)
        self.urls: list[str] = []

    def start(self) -> None:
        self.activity.install()
        self.logout.install()
        results = self.hook.wok_plugin_start(host=self.host)
        self.urls = [url for urls in results for url in (urls or [])]

    def stop(self) -> None:
        try:
            self.hook.wok_plugin_stop(host=self.host)
        finally:
            self.logout.remove()
            self.activity.remove()
            self.host.close()

    def _login_ended(self, user: str, login_digest: str) -> None:
        self.hook.wok_login_ended(host=self.host, user=user, login_digest=login_digest)


class Serialconsole:
    """The object Wok mounts; REST, pages and files go to the plugin's own root."""

    def __init__(self, wok_options: Any) -> None:
        from wok.config import PluginPaths
        from wok.reqlogger import log_request

        conf_file = Path(PluginPaths(NAME).conf_file)
        config = load_config(wok_options, conf_file)
        run_dir = Path(config["server"]["run_dir"])
        prepare_run_dir(run_dir)
        uris = hypervisors_from_config(config)
        log_libvirt_errors(uris.values())
        self.host = WokHost(config, run_dir)
        manager = get_plugin_manager(load_entry_points=False)
        manager.register(SerialConsolePlugin(), name=NAME)
        info = manager.hook.wok_plugin_info()[0]
        try:
            self.app: PluginApp = manager.hook.wok_plugin_app(host=self.host)[0]
        except BaseException:  # Wok leaves the plugin out and goes on: leave nothing running
            self.host.close()
            raise
        # What Wok reads from every mounted root.
        self.domain = info.gettext_domain
        self.messages = dict(i18n.messages)
        self.paths = WokPaths(str(languages.LOCALE_DIR), str(HERE), str(conf_file))
        self.extends = None
        self.depends: list[str] = []
        self.lifecycle = Lifecycle(
            cherrypy.engine, manager.hook, self.host, ActivityLog(info.mount_point, log_request)
        )
        self.lifecycle.subscribe()
        log.info(
            "serial consoles of %s mounted for Wok",
            ", ".join(f"{name} ({redact_uri(uri)})" for name, uri in uris.items()),
        )

    def get_custom_conf(self) -> dict[str, dict[str, Any]]:
        """The plugin's config merged into Wok's ``PluginConfig``: Wok updates its dict with
        this one, so a path given here must keep Wok's own entries (sessions, proxy)."""
        from wok.config import PluginConfig

        wok_config = PluginConfig(NAME)
        merged = {
            path: {**wok_config.get(path, {}), **values} for path, values in self.app.config.items()
        }
        # Wok's tab-ext.xml entry points into its plugins dir; ours is served below.
        merged["/ui/config/tab-ext.xml"] = {
            "tools.staticfile.on": True,
            "tools.staticfile.filename": str(HERE / "tab-ext.xml"),
            "tools.nocache.on": True,
        }
        return merged

    @cherrypy.expose
    def tabs(self, page: str = "", **_params: str) -> bytes:
        """The tab's fragment for Wok's ``#main`` (as Wok's ``Root.tabs`` serves its own)."""
        if page != TAB_PAGE or cherrypy.request.method not in ("GET", "HEAD"):
            return self.default(*(("tabs", page) if page else ("tabs",)))
        cherrypy.response.headers["Content-Type"] = "text/html; charset=utf-8"
        # Wok's shell reopens the last tab after a reload or a new login.
        cherrypy.response.cookie["lastPage"] = "/#plugins/serialconsole/tabs/serialconsole"
        cherrypy.response.cookie["lastPage"]["path"] = "/"
        return (HERE / "tab.html").read_bytes()

    @cherrypy.expose
    def default(self, *segments: str, **params: str) -> bytes:
        request = cherrypy.request
        if needs_csrf_header(request.method, request.headers):
            return http.respond_error(SerialConsoleError(i18n.WOK_REQUESTED_WITH_REQUIRED, 403))
        return self.app.root.default(*segments, **params)
