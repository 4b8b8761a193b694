"""Small steps the real-guest tests share: open a console through the host, reach a shell."""

from __future__ import annotations

from tests.integration.helpers import Console, Host

from .guests import BOOT_TIMEOUT, TinyGuest, prompt

SHELL_TIMEOUT = 15.0
SEQ_TIMEOUT = 120.0


def open_console(host: Host, connect, guest: TinyGuest, **body) -> Console:
    """POST .../serial for ``guest``, then connect the WebSocket."""
    return connect(host.open(guest.name, **body)["ws_url"])


def shell(console: Console, port: int = 0) -> None:
    """Press Enter and wait for the shell prompt of ttyS``port``."""
    console.send("\r")
    console.read_until(prompt(port), SHELL_TIMEOUT)


def answer_42(console: Console, port: int = 0) -> None:
    """The shell computes: ``echo $((6*7))`` answers 42, then the prompt comes back."""
    console.send("echo $((6*7))\r")
    console.read_until(b"\r\n42\r\n", SHELL_TIMEOUT)
    console.read_until(prompt(port), SHELL_TIMEOUT)


def wait_boot(console: Console, line: bytes) -> None:
    console.read_until(line, BOOT_TIMEOUT)
    console.read_until(prompt(0), BOOT_TIMEOUT)
