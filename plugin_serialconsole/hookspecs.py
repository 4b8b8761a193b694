"""The host <-> plugin contract (pluggy project name ``wok``).

A plugin is announced through the entry-point group ``wok.plugins``. The entry point names
either a module of hook implementations or a class, which the host instantiates once, with
no arguments, before registering the instance. Hooks are always called with keyword
arguments.
"""

from __future__ import annotations

import configparser
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pluggy

PROJECT_NAME = "wok"
ENTRY_POINT_GROUP = "wok.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True)
class Tab:
    """A tab the host's UI shows for the plugin (Wok's ``tab-ext.xml``)."""

    title: str
    path: str


@dataclass(frozen=True)
class PluginInfo:
    """Who a plugin is and where the host mounts it."""

    name: str
    version: str
    mount_point: str
    gettext_domain: str
    tabs: tuple[Tab, ...] = ()


@dataclass
class PluginApp:
    """A cherrypy root object and its config, to be mounted at ``mount_point``."""

    mount_point: str
    root: Any
    config: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Identity:
    """The operator behind the current request, as the host authenticated them.

    A browser login session is proved on the WebSocket handshake by a cookie: the host
    names it and gives the SHA-256 of its value, so a console token can be bound to the
    session that asked for it. Clients without a session (HTTP Basic, no auth) have none.
    ``csrf_ok`` is False for a state-changing request that rides on the session cookie
    without the session's CSRF token. ``groups`` are the operator's groups, which rights
    rules may name; ``all_rights`` gives every right on every guest whatever the rules say
    (``--auth none``, a Wok administrator).
    """

    user: str
    session_cookie: str | None = None
    session_digest: str | None = None
    csrf_ok: bool = True
    groups: frozenset[str] = frozenset()
    all_rights: bool = False


class Host(Protocol):
    """What the host hands to every hook.

    ``config`` is the host's whole configuration (its file, then command-line
    overrides): section ``[server]`` always holds ``host``, ``port``, ``ws_port`` and
    ``uri``, filled in by the host; a plugin reads its own section, named after it, which
    may be missing or partial: the plugin owns that section's defaults.
    """

    config: configparser.ConfigParser
    run_dir: Path
    logger: logging.Logger

    def connection(self) -> Any:
        """The default hypervisor's shared libvirt connection; raises ``libvirtError`` at
        once while there is none (it is re-opened in the background)."""

    def hypervisors(self) -> Any:
        """Every hypervisor by name (``host.hypervisors.Hypervisors``): ``states()`` for
        each one's name, redacted URI, state and guest count; ``add_listener(callback)``
        (and ``remove_listener``) to have ``callback(state)`` called, without waiting, on
        each change of a hypervisor's state."""

    def check_auth(self) -> Identity | None:
        """Who the current request comes from, or None when not authenticated."""


@hookspec
def wok_plugin_info() -> PluginInfo:
    """Return the plugin's name, version, mount point, gettext domain and UI tabs."""


@hookspec
def wok_plugin_app(host: Host) -> PluginApp:
    """Return the cherrypy root object and config for the host to mount."""


@hookspec
def wok_plugin_start(host: Host) -> list[str]:
    """Start the plugin's side processes when the host's engine starts; return the URLs
    they serve (e.g. a WebSocket proxy) for the host to announce."""


@hookspec
def wok_plugin_stop(host: Host) -> None:
    """Stop everything the plugin started; called when the host's engine stops."""


@hookspec
def wok_login_ended(host: Host, user: str, login_digest: str | None) -> None:
    """A login of ``user`` ended (logout, or the operator removed from the users file);
    ``login_digest`` is the SHA-256 of its session cookie's value, or None for every login
    and HTTP Basic client of ``user``."""


@hookspec
def wok_login_attempt(
    host: Host, user: str, outcome: str, client: str, login_digest: str | None
) -> None:
    """Someone tried to log in to the host as ``user`` from ``client`` (the real client
    address): ``outcome`` is ``ok``, ``failed`` or ``throttled`` (refused unchecked while
    guessing is slowed); ``login_digest`` is the SHA-256 of the new session cookie's value
    (``ok`` only). A host whose logins are its own business (Wok) need not call it."""
