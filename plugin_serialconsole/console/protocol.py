"""How the host and a console process talk: JSON lines both ways over pipes.

The process reports on its stdout: ``ready`` (socket, replay) once its first socket
listens, ``failed`` (reason, params), ``invited`` (socket, replay, at) or ``refused`` (socket,
error) in answer to an ``invite``, ``connected``, ``left`` and ``expired`` (socket, mode,
at) as clients come and go or an invitation lapses unused (or is withdrawn), and ``ended``
(reason, params); ``at`` is when (unix time) a console session opened or ended, as the
capture log was cut for its recording. The host writes ``invite`` (socket, mode, ttl,
lang, escape, session: the client's console session id), ``drop``
(socket, reason: send that one client away, or withdraw its invitation), ``send`` (a
``sendkeys.SendRequest``: a control key to write to the guest, or what the hypervisor was
sent, for the simulated guest to answer) and ``stop`` (reason, params) lines to the process's
stdin; end of file on stdin means the host is gone, and the process ends. A reason is a
``consoles.Reason`` (what code branches on); its parameters are those of its message
(``Reason.message_code``), which is what people are shown.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from plugin_serialconsole import i18n, languages
from plugin_serialconsole.consoles import CTRL_Q_KEY, ESCAPE_KEYS, MODES, Reason, parse_reason
from plugin_serialconsole.ids import is_socket_name
from plugin_serialconsole.sendkeys import SendRequest

READY = "ready"
FAILED = "failed"
INVITE = "invite"
INVITED = "invited"
REFUSED = "refused"
CONNECTED = "connected"
LEFT = "left"
EXPIRED = "expired"
ENDED = "ended"
STOP = "stop"
DROP = "drop"
SEND = "send"

MAX_TTL = 24 * 3600.0
_SESSION_ID = re.compile(r"[0-9a-f]{0,32}")


@dataclass(frozen=True)
class Invite:
    """A socket to open in the sockets directory, for one client in ``mode``."""

    socket: str
    mode: str
    ttl: float
    language: str = i18n.DEFAULT_LANGUAGE
    escape: str = CTRL_Q_KEY  # the client's escape key (``consoles.ESCAPE_KEYS``)
    session: str = ""  # the console session id (``Claim.session_id``) its input is recorded with


@dataclass(frozen=True)
class Invited:
    """A process's answer to an ``invite``: what the client gets first, and when its
    console session opened (the capture log is cut there)."""

    replay: int
    at: float


def encode(event: str, **fields: Any) -> bytes:
    return json.dumps({"event": event, **fields}).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        return {}
    return message if isinstance(message, dict) and "event" in message else {}


def parse_invite(message: dict[str, Any]) -> Invite | None:
    """The ``invite`` in ``message``, or None when any field is missing or wrong."""
    name, mode, ttl = message.get("socket"), message.get("mode"), message.get("ttl")
    if not isinstance(name, str) or not is_socket_name(name) or mode not in MODES:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
        return None
    if not 0 < ttl <= MAX_TTL:
        return None
    language = message.get("lang")
    language = languages.normalize_language(language) if isinstance(language, str) else None
    escape = message.get("escape", CTRL_Q_KEY)
    if not isinstance(escape, str) or escape not in ESCAPE_KEYS:
        return None
    session = message.get("session", "")
    if not isinstance(session, str) or not _SESSION_ID.fullmatch(session):
        return None
    return Invite(name, mode, float(ttl), language or i18n.DEFAULT_LANGUAGE, escape, session)


@dataclass(frozen=True)
class Drop:
    """Send the client of ``socket`` away (or withdraw its invitation) for ``reason``."""

    socket: str
    reason: Reason


def parse_drop(message: dict[str, Any]) -> Drop | None:
    """The ``drop`` in ``message``, or None when a field is missing or wrong."""
    name, reason = message.get("socket"), parse_reason(message.get("reason"))
    if not isinstance(name, str) or not is_socket_name(name) or reason is None:
        return None
    return Drop(name, reason)


def parse_stop(message: dict[str, Any]) -> tuple[Reason, dict[str, str]] | None:
    """The reason and its message's parameters of a ``stop``, or None when malformed."""
    reason, params = parse_reason(message.get("reason")), message.get("params", {})
    if reason is None or not isinstance(params, dict):
        return None
    if not all(isinstance(value, str) for value in params.values()):
        return None
    return reason, params


def parse_send(message: dict[str, Any]) -> SendRequest | None:
    """The ``send`` in ``message``, or None when a field is missing or wrong."""
    try:
        return SendRequest.from_json(message)
    except (KeyError, TypeError, ValueError):
        return None


class ConsoleOpenError(Exception):
    """The guest console could not be opened; carries the reason and its parameters."""

    def __init__(self, reason: Reason, **params: object) -> None:
        super().__init__(reason, params)
        self.reason = reason
        self.params = params
