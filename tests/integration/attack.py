"""Helpers for attacks on the WebSocket port: half-open handshakes and what they cost.

Loopback only: attack connections come from 127.0.0.2 and up, each bounded in count and
closed by ``close`` (also when a test fails). Used by the tests and by ``make bench``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

from .helpers import WS_TIMEOUT

SOURCES = tuple(f"127.0.0.{n}" for n in range(2, 10))
# A WebSocket request cut off before its end: the proxy can never complete it.
HALF_HEAD = b"GET /?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
SAMPLE_INTERVAL = 0.02


class HalfOpenAttack:
    """TCP connections to the WebSocket port that send half a request head and hold on."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket] = []
        self.attempts = 0
        self.failed = 0

    def open(self, count: int) -> None:
        """``count`` more connection attempts, round robin over SOURCES."""
        for _ in range(count):
            source = SOURCES[self.attempts % len(SOURCES)]
            self.attempts += 1
            sock = socket.socket()
            try:
                sock.settimeout(WS_TIMEOUT)
                sock.bind((source, 0))
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(HALF_HEAD)
                sock.setblocking(False)
            except OSError:
                sock.close()
                self.failed += 1
                continue
            self.sockets.append(sock)

    def held_open(self) -> int:
        """How many of the connections the proxy has not closed (nor answered) yet."""
        held = 0
        for sock in self.sockets:
            try:
                sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                held += 1
            except OSError:
                pass
        return held

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def __enter__(self) -> HalfOpenAttack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pss_kib(pid: int) -> int:
    """Proportional set size of ``pid`` (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def forked_by(pid: int) -> list[int]:
    """The children of ``pid``'s main thread (quick: no scan of /proc)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def proxy_footprint(proxy: int) -> dict[str, int]:
    """The proxy's handler processes, its open descriptors and the PSS of all of them."""
    handlers = forked_by(proxy)
    return {
        "handlers": len(handlers),
        "fds": open_fds(proxy),
        "pss_kib": pss_kib(proxy) + sum(pss_kib(pid) for pid in handlers),
    }


class PeakWatch:
    """Samples ``proxy_footprint`` in a thread while in use; ``peak`` holds the maxima."""

    def __init__(self, proxy: int) -> None:
        self.proxy = proxy
        self.peak = {"handlers": 0, "fds": 0, "pss_kib": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                for key, value in proxy_footprint(self.proxy).items():
                    self.peak[key] = max(self.peak[key], value)
            self._stop.wait(SAMPLE_INTERVAL)

    def __enter__(self) -> PeakWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(action) -> tuple[object, float]:
    """``action()``'s result and how long it took (s)."""
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started
