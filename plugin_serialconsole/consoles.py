"""What every part of the plugin knows about consoles: the modes a console's client may
have, why a console could not open or ended, and which libvirt URIs get the simulated
console.

The REST layer, the session bookkeeping and the console process all speak these words;
none of them has to import another's module (or the console pipe's protocol) for them.
"""

from __future__ import annotations

from enum import StrEnum

from plugin_serialconsole import i18n

# What a client of a console may do.
WRITE = "write"  # input reaches the guest; holds back a guest that can wait (fanout)
VIEW = "view"  # output only; input other than the escape key is dropped
TRANSCRIPT = "transcript"  # the recent output once, then the socket closes (for the host)
MODES = (WRITE, VIEW, TRANSCRIPT)
CLIENT_MODES = (WRITE, VIEW)  # the modes a console can be opened in

# The key that ends a client's session from its keyboard and never reaches the guest, by
# name; "none": only the page's Disconnect button (or closing the connection) ends it.
CTRL_Q_KEY = "ctrl-q"
CTRL_BRACKET_KEY = "ctrl-]"
NO_ESCAPE_KEY = "none"
ESCAPE_KEYS = {CTRL_Q_KEY: b"\x11", CTRL_BRACKET_KEY: b"\x1d", NO_ESCAPE_KEY: None}


def is_mock_uri(uri: str) -> bool:
    """True for libvirt test-driver URIs, whose guests get the simulated console."""
    driver = uri.split(":", 1)[0].split("+", 1)[0]
    return driver == "test"


class Reason(StrEnum):
    """Why a console could not be opened or ended: what code branches on and what the
    console pipe carries. The message code (``message_code``) is for people."""

    IN_USE = "in-use"  # another libvirt client holds the device
    OPEN_FAILED = "open-failed"
    CLIENT_CLOSED = "client-closed"
    CTRL_Q = "ctrl-q"
    CTRL_BRACKET = "ctrl-]"
    IDLE = "idle"
    GUEST_STOPPED = "guest-stopped"
    HOST_STOPPING = "host-stopping"
    OPERATOR_ENDED = "operator-ended"
    TAKEN_OVER = "taken-over"
    NOBODY_CAME = "nobody-came"
    NOBODY_REATTACHED = "nobody-reattached"
    CONSOLE_CLOSED = "console-closed"  # the guest console's stream ended otherwise
    LOGIN_ENDED = "login-ended"  # the client's operator logged out or was removed
    HYPERVISOR_UNREACHABLE = "hypervisor-unreachable"  # the guest's hypervisor stopped answering
    REOPENED = "reopened"  # the writer's own login opened the console again (a reload)

    @property
    def message_code(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Reason.IN_USE: i18n.CONSOLE_IN_USE,
    Reason.OPEN_FAILED: i18n.CONSOLE_OPEN_FAILED,
    Reason.CLIENT_CLOSED: i18n.CLIENT_CLOSED,
    Reason.CTRL_Q: i18n.CTRL_Q_PRESSED,
    Reason.CTRL_BRACKET: i18n.CTRL_BRACKET_PRESSED,
    Reason.IDLE: i18n.IDLE_TIMEOUT,
    Reason.GUEST_STOPPED: i18n.GUEST_STOPPED,
    Reason.HOST_STOPPING: i18n.HOST_STOPPING,
    Reason.OPERATOR_ENDED: i18n.OPERATOR_ENDED,
    Reason.TAKEN_OVER: i18n.TAKEN_OVER,
    Reason.NOBODY_CAME: i18n.NOBODY_CAME,
    Reason.NOBODY_REATTACHED: i18n.NOBODY_REATTACHED,
    Reason.CONSOLE_CLOSED: i18n.CONSOLE_CLOSED,
    Reason.LOGIN_ENDED: i18n.LOGIN_ENDED,
    Reason.HYPERVISOR_UNREACHABLE: i18n.HYPERVISOR_UNREACHABLE,
    Reason.REOPENED: i18n.REOPENED,
}


ESCAPE_REASONS = {CTRL_Q_KEY: Reason.CTRL_Q, CTRL_BRACKET_KEY: Reason.CTRL_BRACKET}


def parse_reason(value: object) -> Reason | None:
    """The reason named by ``value`` (from a pipe), or None."""
    try:
        return Reason(value)
    except ValueError:
        return None
