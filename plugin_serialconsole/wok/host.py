"""The ``hookspecs.Host`` the plugin gets inside Wok, and its configuration.

Wok hands a plugin its options (``wok.utils.get_plugin_config_options``: ``cherrypy_port``,
``test``, ...) and finds the plugin's ``serialconsole.conf`` (``[wok] enable = True``) in
the plugin's directory or ``/etc/wok/plugins.d/``. The same file holds our sections:
``[server]`` for what the standalone host's command line would give (``ws_port``, ``uri``,
``run_dir``, ``mock_hypervisors``), ``[hypervisors]`` read as the standalone host reads it
(``host.config.resolve_hypervisors``) and the plugin's own ``[serialconsole]``. Wok's
``--test`` gives the mock model, as ``serialconsole-host --mock`` does.
"""

from __future__ import annotations

import configparser
import logging
from pathlib import Path
from typing import Any

from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.host.config import (
    HOST_DEFAULTS,
    ConfigError,
    add_mock_hypervisors,
    default_run_dir,
    mock_uri,
    resolve_hypervisors,
)
from plugin_serialconsole.host.hypervisors import Hypervisors
from plugin_serialconsole.hypervisor_uris import hypervisors_from_config
from plugin_serialconsole.wok.identity import current_identity

log = logging.getLogger(__name__)

WOK_LISTEN_HOST = "127.0.0.1"  # wok.server: cherrypy.server.socket_host, behind nginx
# Keys of [server] the file may set; ws_port must not be Wok's own websockify port (64667).
SERVER_KEYS = ("ws_port", "uri", "run_dir", "mock_hypervisors")
WOK_WS_PORT = "64668"


class WokConfigError(ValueError):
    """The plugin's conf file holds something the adapter cannot use."""


def wok_test_mode(options: Any) -> bool:
    """Wok's ``--test``, as ``wok.utils.get_plugins`` reads it (a string once it went
    through Wok's config)."""
    return str(getattr(options, "test", "") or "").strip().lower() == "true"


def load_config(options: Any, conf_file: Path | None) -> configparser.ConfigParser:
    """The host's config the plugin reads: ``[server]`` filled in from Wok's options and
    the file's ``[server]``, ``[hypervisors]`` resolved as the standalone host resolves it,
    the file's other sections as written."""
    config = _read_as_wok_does(conf_file)
    given = dict(config["server"]) if config.has_section("server") else {}
    unknown = sorted(set(given) - set(SERVER_KEYS))
    if unknown:
        raise WokConfigError(f"{conf_file}: [server] takes only {', '.join(SERVER_KEYS)}")
    defaults = HOST_DEFAULTS["server"]
    server = {
        "host": WOK_LISTEN_HOST,
        "port": str(getattr(options, "cherrypy_port", defaults["port"])),
        "ws_port": given.get("ws_port", "").strip() or WOK_WS_PORT,
        "uri": given.get("uri", "").strip(),
        "run_dir": given.get("run_dir", "").strip(),
        "mock_hypervisors": given.get("mock_hypervisors", "").strip()
        or defaults["mock_hypervisors"],
    }
    test_mode = wok_test_mode(options)
    if test_mode:
        server["uri"] = mock_uri()
    server["run_dir"] = str(Path(server["run_dir"] or f"{default_run_dir()}-wok").absolute())
    _check_port(server["ws_port"], getattr(options, "websockets_port", None))
    config.read_dict({"server": server})
    try:
        resolve_hypervisors(config)
        if test_mode:
            add_mock_hypervisors(config)
    except ConfigError as error:
        raise WokConfigError(f"{conf_file}: {error}") from None
    return config


def _read_as_wok_does(conf_file: Path | None) -> configparser.ConfigParser:
    """The file's values as Wok reads them (with interpolation, SafeConfigParser's: a
    literal % is %%), then plain, as the standalone host's are: a value is never
    interpolated twice."""
    config = configparser.ConfigParser(interpolation=None)
    if conf_file is None or not conf_file.is_file():
        return config
    as_wok = configparser.ConfigParser()
    try:
        with open(conf_file, encoding="utf-8") as file:
            as_wok.read_file(file, str(conf_file))
        defaults = {key: as_wok.get(as_wok.default_section, key) for key in as_wok.defaults()}
        sections = {
            section: {
                key: value
                for key, value in as_wok.items(section)
                if key not in defaults or value != defaults[key]
            }
            for section in as_wok.sections()
        }
    except configparser.InterpolationError as error:  # its text quotes the value: a URI's secrets
        raise WokConfigError(
            f"{conf_file}: [{error.section}] {error.option}: a '%' that is not '%%' or "
            "'%(name)s' (Wok reads this file with interpolation: write a literal '%' as '%%')"
        ) from None
    except (OSError, configparser.Error) as error:
        raise WokConfigError(f"{conf_file}: {error}") from None
    config.read_dict({as_wok.default_section: defaults, **sections})
    return config


def _check_port(ws_port: str, wok_ws_port: Any) -> None:
    try:
        port = int(ws_port)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise WokConfigError(f"[server] ws_port: not a port number: {ws_port!r}")
    if port and str(port) == str(wok_ws_port):
        raise WokConfigError(
            f"[server] ws_port: {port} is Wok's own websockets_port; give the consoles "
            "another port (and nginx a location of its own for it)"
        )


class WokHost:
    """What the plugin gets from Wok (see ``hookspecs.Host``)."""

    def __init__(self, config: configparser.ConfigParser, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.logger = logging.getLogger("serialconsole.wok")
        self._hypervisors = Hypervisors(hypervisors_from_config(config))
        self._hypervisors.start()

    def connection(self) -> Any:
        return self._hypervisors.default().get()

    def hypervisors(self) -> Hypervisors:
        return self._hypervisors

    def check_auth(self) -> Identity | None:
        return current_identity()

    def close(self) -> None:
        self._hypervisors.stop()
