"""What a console process is told to do: one carrier that the host and the process both
import, and its wire format, known here and nowhere else.

The host builds a ``ConsoleSpec`` (from ``ConsoleSettings``, built once from the plugin's
config, plus the guest, device and first client of one console) and starts the process as

    python -m plugin_serialconsole.console -- '{"uri": ..., "guest_name": ..., ...}'

The whole spec is one JSON document after ``--``: a guest name, a URI or a language is
data inside it, so no text a client or a guest chose is ever parsed as an option. The
zygote takes the same document (``zygote_protocol``); the process reads it back with
``ConsoleSpec.from_argv``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from plugin_serialconsole import i18n
from plugin_serialconsole.console.protocol import MAX_TTL, Invite
from plugin_serialconsole.consoles import CLIENT_MODES, CTRL_Q_KEY, ESCAPE_KEYS, WRITE

MODULE = "plugin_serialconsole.console"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SpecError(ValueError):
    """A console spec that is malformed or out of range."""


@dataclass(frozen=True)
class ConsoleSettings:
    """What every console process of a host shares; built once from the plugin's config
    (defaults: ``settings.DEFAULTS``)."""

    token_ttl: float  # seconds an invitation waits for its client, the first one's included
    idle_timeout: float  # 0: none
    grace: float  # seconds kept for a writer to reattach; 0: the writer leaving ends it
    ring_size: int  # bytes of recent output kept for clients that join
    log_size: int = 1024 * 1024  # bytes of a capture log before it is rotated
    record_input: bool = False  # a capture keeps what writers type beside its log

    def __post_init__(self) -> None:
        if not 0 < self.token_ttl <= MAX_TTL:
            raise SpecError(f"token_ttl must be > 0 and <= {MAX_TTL:g} s")
        if self.idle_timeout < 0 or self.grace < 0 or self.ring_size < 1 or self.log_size < 1:
            raise SpecError("idle_timeout and grace must be >= 0, ring_size and log_size >= 1")


@dataclass(frozen=True)
class ConsoleSpec:
    """One console process: which guest console it serves and its first client."""

    settings: ConsoleSettings
    uri: str  # libvirt URI the process opens its own connection to
    guest_uuid: str
    guest_name: str  # for messages only
    device: str  # console device alias, e.g. serial0
    socket_path: Path  # the first client's socket; further ones are made beside it
    mode: str = WRITE  # the first client's
    force: bool = False  # take the device over from another libvirt client
    language: str = i18n.DEFAULT_LANGUAGE  # of the first client's final line
    log_level: str = "INFO"
    escape: str = CTRL_Q_KEY  # the first client's escape key
    # A capture starts with no client, lives while the guest runs (clients come and go)
    # and appends the guest's output to its log in ``log_dir`` (none when empty).
    capture: bool = False
    booted: bool = False  # the capture starts with the guest: its log gets a boot line
    log_dir: str = ""

    def __post_init__(self) -> None:
        if self.mode not in CLIENT_MODES:
            raise SpecError(f"mode: one of {', '.join(CLIENT_MODES)}")
        path = self.socket_path
        if not path.is_absolute() or path.name in ("", ".", ".."):
            raise SpecError("socket_path: not an absolute path to a socket")
        if self.escape not in ESCAPE_KEYS:
            raise SpecError(f"escape: one of {', '.join(ESCAPE_KEYS)}")
        if self.log_dir and not Path(self.log_dir).is_absolute():
            raise SpecError("log_dir: not an absolute path")
        if self.log_level not in LOG_LEVELS:
            raise SpecError(f"log_level: one of {', '.join(LOG_LEVELS)}")

    @property
    def sockets_dir(self) -> Path:
        return self.socket_path.parent

    def first_invite(self) -> Invite | None:
        """The invitation the process starts with (a capture starts with none)."""
        if self.capture:
            return None
        return Invite(
            self.socket_path.name, self.mode, self.settings.token_ttl, self.language, self.escape
        )

    # the wire format ---------------------------------------------------------

    def to_json(self) -> str:
        document = asdict(self)
        document["socket_path"] = str(self.socket_path)
        return json.dumps(document, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> ConsoleSpec:
        """The spec in ``text``; raises SpecError for anything but a complete, valid one."""
        try:
            document = json.loads(text)
        except ValueError as error:
            raise SpecError(f"not JSON: {error}") from None
        values = _typed(cls, document)
        values["settings"] = ConsoleSettings(**_typed(ConsoleSettings, values["settings"]))
        values["socket_path"] = Path(values["socket_path"])
        return cls(**values)

    def argv(self) -> list[str]:
        """The console process's command line after the interpreter."""
        return command_line(self.to_json())

    @classmethod
    def from_argv(cls, args: list[str]) -> ConsoleSpec:
        """The spec from the arguments after ``-m MODULE``: exactly ``--`` and the JSON."""
        if len(args) != 2 or args[0] != "--":
            raise SpecError("expected: -- SPEC (one JSON document)")
        return cls.from_json(args[1])


def command_line(document: str) -> list[str]:
    """The command line after the interpreter of the console process whose spec is
    ``document`` (a spec's JSON form)."""
    return ["-m", MODULE, "--", document]


# The JSON type each field's annotation stands for.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "Path": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "ConsoleSettings": (dict,),
}


def _typed(cls: type, document: Any) -> dict[str, Any]:
    """``document``'s fields for ``cls``: every one present, of its type, nothing else."""
    names = {field.name: field.type for field in fields(cls)}
    if not isinstance(document, dict) or set(document) != set(names):
        raise SpecError(f"{cls.__name__}: expected exactly the fields {', '.join(names)}")
    for name, value in document.items():
        wanted = _JSON_TYPES[names[name]]
        if isinstance(value, bool) and bool not in wanted or not isinstance(value, wanted):
            raise SpecError(f"{cls.__name__}.{name}: not a {names[name]}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"{cls.__name__}.{name}: not a finite number")
        if isinstance(value, str) and "\0" in value:
            raise SpecError(f"{cls.__name__}.{name}: holds a NUL")
    return dict(document)
