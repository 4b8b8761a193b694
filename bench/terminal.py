"""What the bench does at a console, whichever way the console is reached.

A terminal is anything with ``send(bytes)`` and ``read_until(marker, timeout) -> bytes``: the
pipeline's WebSocket (``WsTerminal``) or a direct libvirt stream. The measures here (echo
round trips, bulk output) run the same on both, so the figures compare like with like.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from typing import Protocol

import websocket

from tests.integration.helpers import seq_bytes

TIMEOUT = 60.0


class BenchFailure(Exception):
    """Something functionally wrong (lost or wrong bytes, a refused session): not a figure."""


class Terminal(Protocol):
    def send(self, data: bytes) -> None: ...

    def read_until(self, marker: bytes, timeout: float = TIMEOUT) -> bytes: ...


class WsTerminal:
    """A WebSocket console client that scans each byte once (a bulk read is not quadratic)."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.buffer = bytearray()

    @classmethod
    def connect(cls, url: str, timeout: float = TIMEOUT) -> WsTerminal:
        return cls(websocket.create_connection(url, timeout=timeout))

    def send(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def receive(self, deadline: float) -> bytes:
        """One frame's payload; BenchFailure when the console closes or stays silent."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchFailure(f"console silent; last bytes {bytes(self.buffer[-200:])!r}")
        self.ws.settimeout(remaining)
        try:
            opcode, payload = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            raise BenchFailure(f"console silent; last {bytes(self.buffer[-200:])!r}") from None
        except (websocket.WebSocketConnectionClosedException, ConnectionError) as error:
            raise BenchFailure(f"console closed: {error}") from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise BenchFailure(f"console closed; last bytes {bytes(self.buffer[-200:])!r}")
        return payload

    def read_until(self, marker: bytes, timeout: float = TIMEOUT) -> bytes:
        """Bytes up to and including the first ``marker``; the rest stays buffered."""
        deadline = time.monotonic() + timeout
        scanned = 0
        while (at := self.buffer.find(marker, scanned)) < 0:
            scanned = max(0, len(self.buffer) - len(marker) + 1)
            self.buffer += self.receive(deadline)
        end = at + len(marker)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    def first_byte(self, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.buffer:
            self.buffer += self.receive(deadline)

    def close(self) -> None:
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self.ws.close(timeout=1)


def echo_round_trips(term: Terminal, count: int, prompt: bytes) -> list[float]:
    """Seconds from sending ``echo rNx`` + Enter until its output line is back, ``count`` times."""
    term.send(b"\r")
    term.read_until(prompt)
    trips = []
    for n in range(count):
        started = time.perf_counter()
        term.send(b"echo r%dx\r" % n)
        term.read_until(b"\r\nr%dx\r\n" % n)
        trips.append(time.perf_counter() - started)
        term.read_until(prompt)
    return trips


def sysrq_round_trips(term: Terminal, send_sysrq: Callable[[], None], count: int) -> list[float]:
    """Seconds from ``POST …/send`` of SysRq+m until the kernel's answer is on the console."""
    trips = []
    for _ in range(count):
        started = time.perf_counter()
        send_sysrq()
        term.read_until(b"sysrq: Show Memory")
        trips.append(time.perf_counter() - started)
    return trips


def bulk_rate(term: Terminal, last: int, prompt: bytes, body: bytes | None = None) -> float:
    """Bytes per second of ``seq LAST`` output, checked byte for byte."""
    body = body if body is not None else seq_bytes(last)
    term.send(b"\r")
    term.read_until(prompt)
    started = time.perf_counter()
    term.send(b"seq %d\r" % last)
    data = term.read_until(b"\r\n%d\r\n" % last)
    elapsed = time.perf_counter() - started
    if not data.endswith(b"\r\n" + body):
        raise BenchFailure(f"seq {last}: output differs from 1..{last}, ...{data[-200:]!r}")
    term.read_until(prompt)
    return len(body) / elapsed


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (0.5 = median, 0.9 = p90), interpolated."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def trip_figures(trips: list[float]) -> dict[str, float]:
    """p50 and p90 of round trips, in milliseconds."""
    return {"p50_ms": 1000 * percentile(trips, 0.5), "p90_ms": 1000 * percentile(trips, 0.9)}
