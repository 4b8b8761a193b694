"""The plugin's config section, ``[serialconsole]``: its one table of defaults, and the
typed, checked values built from it once at start."""

from __future__ import annotations

import configparser
import math
from dataclasses import dataclass
from pathlib import Path

from plugin_serialconsole import auditfile, journal
from plugin_serialconsole.bridge.accept import HandlerLimits
from plugin_serialconsole.console.spec import ConsoleSettings
from plugin_serialconsole.consoles import CTRL_Q_KEY, ESCAPE_KEYS
from plugin_serialconsole.control.wsurl import DEFAULT_TEMPLATE, WebSocketUrl
from plugin_serialconsole.model.capture_policy import CapturePolicy

SECTION = "serialconsole"
# The section's keys and their defaults: the only place they are set.
DEFAULTS = {
    "token_ttl": "60",
    "idle_timeout": "1800",
    "allowed_origins": "",
    "websocket_url": DEFAULT_TEMPLATE,
    "max_ws_handlers": "1024",
    "ws_handshake_timeout": "5",
    "max_sessions": "100",
    "reattach_grace": "60",
    "ring_size": "262144",
    "max_viewers": "10",
    "ui_dir": "",
    "rights_file": "",
    "allow_break": "no",
    "escape_key": CTRL_Q_KEY,
    "capture": "all",
    "capture_include": "",
    "capture_exclude": "",
    "state_dir": "",
    "log_size": "1048576",
    "audit_log": "",
    "audit_log_size": "10485760",
    "audit_journal": "auto",
    "record_input": "no",
}
AUDIT_LOG = "audit.log"  # in the state directory, unless audit_log says where
MIN_RING_SIZE = 4096
MAX_RING_SIZE = 64 * 1024 * 1024
MIN_LOG_SIZE = 4096
MAX_LOG_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The plugin's own config section, with defaults, as typed values."""

    console: ConsoleSettings  # what each console process is told
    allowed_origins: tuple[str, ...]
    websocket_url: WebSocketUrl
    websocket_limits: HandlerLimits
    max_sessions: int
    max_viewers: int
    ui_dir: str
    rights_file: str
    capture: CapturePolicy  # which guests' consoles are captured, and where their logs go
    allow_break: bool = False  # a Break over QEMU's monitor passthrough (taints the domain)
    escape_key: str = CTRL_Q_KEY  # what ends a session from the keyboard, unless a page says
    audit: AuditSettings | None = None  # where the audit trail goes; None: nowhere

    @classmethod
    def from_config(cls, config: configparser.ConfigParser) -> Settings:
        given = dict(config[SECTION]) if config.has_section(SECTION) else {}
        section = {**DEFAULTS, **{key: value for key, value in given.items() if value.strip()}}
        max_sessions = _number(section, "max_sessions")
        max_viewers = _number(section, "max_viewers")
        if max_sessions < 1 or max_sessions % 1:
            raise ValueError(f"[{SECTION}] max_sessions must be a whole number >= 1")
        if max_viewers < 0 or max_viewers % 1:
            raise ValueError(f"[{SECTION}] max_viewers must be a whole number >= 0")
        origins = tuple(o for o in section["allowed_origins"].replace(",", " ").split() if o)
        return cls(
            console=_console_settings(section),
            allowed_origins=origins,
            websocket_url=WebSocketUrl(section["websocket_url"]),
            websocket_limits=_websocket_limits(section),
            max_sessions=int(max_sessions),
            max_viewers=int(max_viewers),
            ui_dir=section["ui_dir"].strip(),
            rights_file=section["rights_file"].strip(),
            capture=_capture_policy(section),
            allow_break=_boolean(section, "allow_break"),
            escape_key=_escape_key(section),
            audit=_audit_settings(section),
        )


@dataclass(frozen=True)
class AuditSettings:
    """The audit log's file (None: no file) and its size, and whether to the journal."""

    path: Path | None
    max_size: int
    journal: str  # one of journal.MODES


def _audit_settings(section: dict[str, str]) -> AuditSettings:
    """``audit_log``: a path, empty for ``<state_dir>/audit.log``, or ``no`` for none."""
    text = section["audit_log"].strip()
    if text.lower() in ("no", "none", "off", "false"):
        path = None
    else:
        path = Path(text) if text else _capture_policy(section).state_dir / AUDIT_LOG
        if not path.is_absolute():
            raise ValueError(f"[{SECTION}] audit_log: not an absolute path: {text!r}")
    size = _number(section, "audit_log_size")
    if not auditfile.MIN_SIZE <= size <= auditfile.MAX_SIZE or size % 1:
        raise ValueError(
            f"[{SECTION}] audit_log_size must be a whole number of bytes from "
            f"{auditfile.MIN_SIZE} to {auditfile.MAX_SIZE}"
        )
    mode = section["audit_journal"].strip().lower()
    if mode not in journal.MODES:
        raise ValueError(f"[{SECTION}] audit_journal: one of {', '.join(journal.MODES)}")
    return AuditSettings(path, int(size), mode)


def _websocket_limits(section: dict[str, str]) -> HandlerLimits:
    max_handlers = _number(section, "max_ws_handlers")
    handshake_timeout = _number(section, "ws_handshake_timeout")
    if max_handlers < 1 or max_handlers % 1:
        raise ValueError(f"[{SECTION}] max_ws_handlers must be a whole number >= 1")
    if handshake_timeout <= 0:
        raise ValueError(f"[{SECTION}] ws_handshake_timeout must be > 0 (seconds)")
    return HandlerLimits(int(max_handlers), handshake_timeout)


def _console_settings(section: dict[str, str]) -> ConsoleSettings:
    token_ttl = _number(section, "token_ttl")
    idle_timeout = _number(section, "idle_timeout")
    grace = _number(section, "reattach_grace")
    ring_size = _number(section, "ring_size")
    log_size = _number(section, "log_size")
    if token_ttl <= 0 or idle_timeout < 0:
        raise ValueError(f"[{SECTION}] token_ttl must be > 0 and idle_timeout >= 0")
    if grace < 0:
        raise ValueError(f"[{SECTION}] reattach_grace must be >= 0 (seconds)")
    if not MIN_RING_SIZE <= ring_size <= MAX_RING_SIZE or ring_size % 1:
        raise ValueError(
            f"[{SECTION}] ring_size must be a whole number of bytes from {MIN_RING_SIZE} "
            f"to {MAX_RING_SIZE}"
        )
    if not MIN_LOG_SIZE <= log_size <= MAX_LOG_SIZE or log_size % 1:
        raise ValueError(
            f"[{SECTION}] log_size must be a whole number of bytes from {MIN_LOG_SIZE} "
            f"to {MAX_LOG_SIZE}"
        )
    try:
        record_input = _boolean(section, "record_input")
        return ConsoleSettings(
            token_ttl, idle_timeout, grace, int(ring_size), int(log_size), record_input
        )
    except ValueError as error:
        raise ValueError(f"[{SECTION}] {error}") from None


def _capture_policy(section: dict[str, str]) -> CapturePolicy:
    try:
        return CapturePolicy.from_values(
            section["capture"],
            section["capture_include"],
            section["capture_exclude"],
            section["state_dir"],
        )
    except ValueError as error:
        raise ValueError(f"[{SECTION}] {error}") from None


def _boolean(section: dict[str, str], key: str) -> bool:
    value = section[key].strip().lower()
    if value not in configparser.ConfigParser.BOOLEAN_STATES:
        raise ValueError(f"[{SECTION}] {key}: not yes or no: {section[key]!r}")
    return configparser.ConfigParser.BOOLEAN_STATES[value]


def _escape_key(section: dict[str, str]) -> str:
    value = section["escape_key"].strip().lower()
    if value not in ESCAPE_KEYS:
        raise ValueError(f"[{SECTION}] escape_key: one of {', '.join(ESCAPE_KEYS)}")
    return value


def _number(section: dict[str, str], key: str) -> float:
    try:
        value = float(section[key])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"[{SECTION}] {key}: not a number: {section[key]!r}")
    return value
