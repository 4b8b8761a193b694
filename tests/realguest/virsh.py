"""``virsh console`` on a pseudo-terminal: another client holding a guest console."""

from __future__ import annotations

import contextlib
import os
import pty
import selectors
import subprocess
import time

from .daemons import URI

CONNECTED = b"Escape character is"
TIMEOUT = 15.0


class VirshConsole:
    """``virsh console [--force] GUEST`` with a pty for its terminal."""

    def __init__(self, guest: str, force: bool = False) -> None:
        self.output = bytearray()
        self._master, slave = pty.openpty()
        command = ["virsh", "-c", URI, "console", *(["--force"] if force else []), guest]
        self.proc = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)

    def read_until(self, marker: bytes, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._master, selectors.EVENT_READ)
            while marker not in self.output:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise AssertionError(f"virsh: no {marker!r} in {bytes(self.output)!r}")
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:  # EIO: virsh has gone
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"virsh exited before {marker!r}: {bytes(self.output)!r}")
                self.output += chunk

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        """virsh's exit code, once it exits (reading its terminal meanwhile)."""
        with contextlib.suppress(AssertionError):
            self.read_until(b"\0never\0", timeout)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        with contextlib.suppress(OSError):
            os.close(self._master)
