"""The host's configuration: an INI file, then command-line overrides.

The result is the one ``ConfigParser`` the host hands to plugins. The host owns and
fills in the defaults of ``[server]`` and ``[logging]``; every other section (a plugin's,
named after it) passes through as written, and its plugin owns its defaults.
"""

from __future__ import annotations

import configparser
import logging
import math
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from plugin_serialconsole.host.forwarded import parse_networks
from plugin_serialconsole.host.passwd import DEFAULT_USERS_FILE
from plugin_serialconsole.hypervisor_uris import DEFAULT_NAME, SECTION, hypervisors_from_config

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("/etc/serialconsole/serialconsole.conf")
DEFAULT_URI = "qemu:///system"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
AUTH_MODES = ("users", "none")
LOOPBACK = ("127.0.0.1", "::1", "localhost")

# The host's sections with their defaults; "" means "worked out at start" (see below).
HOST_DEFAULTS: dict[str, dict[str, str]] = {
    "server": {
        "host": "127.0.0.1",
        "port": "8010",
        "ws_port": "64667",
        "mock": "no",
        "mock_hypervisors": "1",
        "uri": "",
        "auth": "users",
        "users_file": "",
        "session_timeout": "1800",
        "run_dir": "",
        "trusted_proxies": "",
        "header_timeout": "10",
        "body_timeout": "10",
        "connections_per_address": "20",
        "max_connections": "1000",
    },
    "logging": {
        "level": "INFO",
        "file": "",
        "levels": "",
    },
}


class ConfigError(ValueError):
    """A configuration file or value the host cannot use."""


# The shipped mock hypervisors' guests: the first is ``default``'s, the others are named.
MOCK_NODES = (("", "mock/mock.xml"), ("mock2", "mock/mock2.xml"))


def mock_uri(node: str = "mock/mock.xml") -> str:
    """The libvirt test-driver URI of mock guests shipped with the package."""
    path = resources.files("plugin_serialconsole").joinpath(node)
    return f"test://{Path(str(path)).resolve()}"


def default_run_dir() -> Path:
    """systemd's ``RuntimeDirectory``, else /run for root, else the user's runtime dir."""
    if runtime_directory := os.environ.get("RUNTIME_DIRECTORY"):
        return Path(runtime_directory.split(":")[0])
    if os.geteuid() == 0:
        return Path("/run/serialconsole")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "serialconsole"
    return Path(f"/tmp/serialconsole-{os.geteuid()}")


def default_users_file() -> Path:
    """systemd's copy (``LoadCredential=users:...``) if there is one, else /etc's."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / "users").is_file():
        return Path(credentials) / "users"
    return DEFAULT_USERS_FILE


def load(
    path: Path | None,
    overrides: Mapping[tuple[str, str], str] | None = None,
) -> configparser.ConfigParser:
    """Defaults, then the file at ``path`` (or the default path if it exists), then
    ``overrides`` keyed by (section, key); the host's values resolved and checked."""
    config = configparser.ConfigParser(interpolation=None)
    config.read_dict(HOST_DEFAULTS)
    _read_file(config, path)
    for (section, key), value in (overrides or {}).items():
        if not config.has_section(section):
            config.add_section(section)
        config[section][key] = value
    _resolve(config)
    return config


def _read_file(config: configparser.ConfigParser, path: Path | None) -> None:
    explicit = path is not None
    path = path or DEFAULT_PATH
    if not explicit and not path.exists():
        log.debug("no configuration file at %s; using defaults", path)
        return
    try:
        with open(path, encoding="utf-8") as file:
            config.read_file(file, str(path))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except configparser.Error as error:
        raise ConfigError(f"{path}: {error.message}") from None
    for section, defaults in HOST_DEFAULTS.items():
        unknown = sorted(set(config[section]) - set(defaults) - set(config.defaults()))
        if unknown:
            log.warning("%s: [%s] has unknown keys: %s", path, section, ", ".join(unknown))


def _resolve(config: configparser.ConfigParser) -> None:
    """Turn "worked out at start" values into real ones; refuse values that are wrong."""
    server = config["server"]
    try:
        mock = server.getboolean("mock")
    except ValueError:
        raise ConfigError(f"[server] mock: not a boolean: {server['mock']!r}") from None
    if mock:
        server["uri"] = mock_uri()
    resolve_hypervisors(config)
    if mock:
        add_mock_hypervisors(config)
    server["run_dir"] = str(Path(server["run_dir"] or default_run_dir()).absolute())
    server["users_file"] = str(Path(server["users_file"] or default_users_file()).absolute())
    if server["auth"] not in AUTH_MODES:
        raise ConfigError(f"[server] auth: one of {', '.join(AUTH_MODES)}, not {server['auth']!r}")
    try:
        if not 0 < float(server["session_timeout"]) < math.inf:  # nan fails it too
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"[server] session_timeout: seconds > 0, not {server['session_timeout']!r}"
        ) from None
    try:
        parse_networks(server["trusted_proxies"])
    except ValueError as error:
        raise ConfigError(f"[server] trusted_proxies: {error}") from None
    _check_limits(server)
    for key in ("port", "ws_port"):
        try:
            port = int(server[key])
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            raise ConfigError(f"[server] {key}: not a port number: {server[key]!r}")
    logs = config["logging"]
    logs["level"] = logs["level"].strip().upper()
    if logs["level"] not in LOG_LEVELS:
        raise ConfigError(f"[logging] level: one of {', '.join(LOG_LEVELS)}, not {logs['level']!r}")
    logger_levels(logs)


def resolve_hypervisors(config: configparser.ConfigParser) -> None:
    """``[hypervisors]`` gets ``[server] uri`` as its ``default`` when the URI is given, or
    when no hypervisor is named; else ``[server] uri`` is the first named one's URI.

    The one reading of hypervisors, the standalone host's and the Wok adapter's."""
    server = config["server"]
    if not config.has_section(SECTION):
        config.add_section(SECTION)
    named = config[SECTION]
    if server["uri"]:
        if DEFAULT_NAME in named and named[DEFAULT_NAME] != server["uri"]:
            raise ConfigError(
                f"[{SECTION}] {DEFAULT_NAME} is the hypervisor of [server] uri (--uri); "
                "give one of them, or name the other hypervisor differently"
            )
        entries = {DEFAULT_NAME: server["uri"], **dict(named)}
        config.remove_section(SECTION)
        config.read_dict({SECTION: entries})
    elif named:
        server["uri"] = next(iter(named.values()))
    else:
        server["uri"] = os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI
        named[DEFAULT_NAME] = server["uri"]
    try:
        hypervisors_from_config(config)
    except ValueError as error:
        raise ConfigError(f"[{SECTION}] {error}") from None


def add_mock_hypervisors(config: configparser.ConfigParser) -> None:
    """``mock_hypervisors = 2``: a second simulated hypervisor (``mock2``) beside
    ``default``, with other guests and one of the same name and UUID (a copied guest)."""
    value = config["server"]["mock_hypervisors"]
    try:
        count = int(value)
        if not 1 <= count <= len(MOCK_NODES):
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"[server] mock_hypervisors: 1 to {len(MOCK_NODES)}, not {value!r}"
        ) from None
    for name, node in MOCK_NODES[1:count]:
        config[SECTION].setdefault(name, mock_uri(node))


def _check_limits(server: configparser.SectionProxy) -> None:
    """The REST port's limits on clients (see ``host.gate``)."""
    for key in ("header_timeout", "body_timeout"):
        try:
            if not 0 < float(server[key]) <= 3600:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"[server] {key}: seconds, > 0 and <= 3600, not {server[key]!r}"
            ) from None
    for key in ("connections_per_address", "max_connections"):
        try:
            if int(server[key]) < 1:
                raise ValueError
        except ValueError:
            raise ConfigError(f"[server] {key}: a number >= 1, not {server[key]!r}") from None


def check_auth(server: configparser.SectionProxy) -> None:
    """Refuse to serve consoles without a login beyond loopback, or with no users file."""
    if server["auth"] == "none":
        if server["host"] not in LOOPBACK:
            raise ConfigError(
                f"auth = none (--auth none) serves guest consoles to anyone who reaches "
                f"{server['host']}; it is allowed only with a loopback host "
                "(127.0.0.1, ::1, localhost)"
            )
        return
    if not Path(server["users_file"]).is_file():
        raise ConfigError(
            f"no users file at {server['users_file']}: create one with "
            f"'serialconsole-passwd --users-file {server['users_file']} NAME', "
            "or use auth = none (--auth none) on a loopback host"
        )


def logger_levels(logs: configparser.SectionProxy) -> dict[str, str]:
    """``[logging] levels = name=LEVEL ...`` as a dict; refuses malformed entries."""
    levels = {}
    for item in logs.get("levels", "").replace(",", " ").split():
        name, _, level = item.partition("=")
        if not name or level.upper() not in LOG_LEVELS:
            raise ConfigError(f"[logging] levels: expected logger=LEVEL, not {item!r}")
        levels[name] = level.upper()
    return levels
