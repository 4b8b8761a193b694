"""What an operator can send to a guest besides typing: the words for it, one carrier.

``POST /vms/<guest>/send`` takes a body (schema ``vm_send`` in API.json) that becomes a
``SendRequest``. The host model acts on it (libvirt for SysRq, NMI, Ctrl+Alt+Del and Break;
the console process for a literal control key) and the same carrier crosses the console
pipe as a ``send`` line, so the simulated guest of the mock model prints what a kernel
would. Key codes are Linux input codes (``VIR_KEYCODE_SET_LINUX``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYSRQ = "sysrq"
NMI = "nmi"
CTRL_ALT_DEL = "ctrl-alt-del"
BREAK = "break"
CONTROL = "control"
ACTIONS = (SYSRQ, NMI, CTRL_ALT_DEL, BREAK, CONTROL)

# Linux input event codes (include/uapi/linux/input-event-codes.h).
KEY_LEFTCTRL = 29
KEY_LEFTALT = 56
KEY_SYSRQ = 99
KEY_DELETE = 111
_KEY_CODES = {
    **dict(zip("1234567890", range(2, 12), strict=True)),
    **dict(zip("qwertyuiop", range(16, 26), strict=True)),
    **dict(zip("asdfghjkl", range(30, 39), strict=True)),
    **dict(zip("zxcvbnm", range(44, 51), strict=True)),
}

# The kernel's magic SysRq keys (Documentation/admin-guide/sysrq.rst) and what each does,
# worded as the kernel's own help line names them.
SYSRQ_KEYS: dict[str, str] = {
    "b": "reboot",
    "c": "crash",
    "d": "show-all-locks",
    "e": "terminate-all-tasks",
    "f": "memory-full-oom-kill",
    "h": "help",
    "i": "kill-all-tasks",
    "j": "thaw-filesystems",
    "k": "sak",
    "l": "show-backtrace-all-active-cpus",
    "m": "show-memory-usage",
    "n": "nice-all-RT-tasks",
    "o": "poweroff",
    "p": "show-registers",
    "q": "show-all-timers",
    "r": "unraw",
    "s": "sync",
    "t": "show-task-states",
    "u": "unmount",
    "w": "show-blocked-tasks",
    "z": "dump-ftrace-buffer",
    **{digit: "loglevel" for digit in "0123456789"},
}
# Keys whose effect cannot be taken back: the UI asks before sending them.
DESTRUCTIVE_SYSRQ = frozenset("bceiko")

# A control key is named by the character it is Ctrl plus: "Q" is Ctrl+Q (0x11), "]" is
# Ctrl+] (0x1d), "@" is Ctrl+@ (NUL).
CONTROL_KEYS = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"


def control_byte(key: str) -> bytes:
    """The byte of Ctrl+``key``."""
    if len(key) != 1 or key.upper() not in CONTROL_KEYS:
        raise ValueError(f"not a control key: {key!r}")
    return bytes([ord(key.upper()) - 64])


@dataclass(frozen=True)
class SendRequest:
    """One thing to send to a guest: ``action`` (one of ACTIONS), its ``key`` (SysRq and
    control keys) and the console ``device`` (Break and control keys; None: the first)."""

    action: str
    key: str = ""
    device: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if self.action == SYSRQ and self.key not in SYSRQ_KEYS:
            raise ValueError(f"not a SysRq key: {self.key!r}")
        if self.action == CONTROL:
            control_byte(self.key)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SendRequest:
        """From a body that passed the ``vm_send`` schema (or a ``send`` pipe line)."""
        return cls(str(body["action"]), str(body.get("key", "")), body.get("device"))

    def keycodes(self) -> list[int]:
        """The keys pressed together for ``virDomainSendKey``."""
        if self.action == SYSRQ:
            return [KEY_LEFTALT, KEY_SYSRQ, _KEY_CODES[self.key]]
        if self.action == CTRL_ALT_DEL:
            return [KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE]
        raise ValueError(f"{self.action} is not sent as keys")

    @property
    def destructive(self) -> bool:
        return self.action in (NMI, CTRL_ALT_DEL) or (
            self.action == SYSRQ and self.key in DESTRUCTIVE_SYSRQ
        )

    def describe(self) -> str:
        """What was sent, as an operator reads it: ``SysRq+h (help)``, ``Ctrl+Q``, ``NMI``."""
        if self.action == SYSRQ:
            return f"SysRq+{self.key} ({SYSRQ_KEYS[self.key]})"
        if self.action == CONTROL:
            return f"Ctrl+{self.key.upper()}"
        return {NMI: "NMI", CTRL_ALT_DEL: "Ctrl+Alt+Del", BREAK: "Break"}[self.action]

    def as_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"action": self.action}
        if self.key:
            fields["key"] = self.key
        if self.device is not None:
            fields["device"] = self.device
        return fields
