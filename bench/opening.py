"""Opening consoles as a client does: REST POST for a token, then the WebSocket.

Only the public REST API and the WebSocket are used, so the bench keeps working when the
host's insides change.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from urllib.parse import quote

from bench.terminal import BenchFailure, WsTerminal, percentile
from tests.integration.helpers import Host

BUSY_RETRY = 10.0  # a console just let go of may answer 409 for a moment
SESSION_END_TIMEOUT = 10.0
POLL = 0.01


@dataclass
class Opened:
    """An open console and how long each step of opening it took (seconds)."""

    term: WsTerminal
    rest: float
    handshake: float
    first_byte: float = 0.0

    @property
    def total(self) -> float:
        return self.rest + self.handshake + self.first_byte


def post_console(host: Host, guest: str) -> str:
    """POST vms/<guest>/serial until it is not busy; the WebSocket URL."""
    deadline = time.monotonic() + BUSY_RETRY
    while True:
        response = host.post(f"vms/{quote(guest, safe='')}/serial")
        if response.status_code == 201:
            return response.json()["ws_url"]
        if response.status_code != 409 or time.monotonic() > deadline:
            raise BenchFailure(f"POST {guest}: {response.status_code} {response.text}")
        time.sleep(POLL)


def post_sysrq(host: Host, guest: str, key: str = "m") -> None:
    """POST vms/<guest>/send: SysRq + ``key``."""
    body = {"action": "sysrq", "key": key}
    response = host.post(f"vms/{quote(guest, safe='')}/send", json=body)
    if response.status_code != 200:
        raise BenchFailure(f"send to {guest}: {response.status_code} {response.text}")


def open_console(host: Host, guest: str) -> Opened:
    """REST, then the WebSocket handshake, each timed."""
    started = time.perf_counter()
    url = post_console(host, guest)
    posted = time.perf_counter()
    term = WsTerminal.connect(url)
    return Opened(term, posted - started, time.perf_counter() - posted)


def open_first_byte(host: Host, guest: str, nudge: bytes = b"") -> Opened:
    """Open a console and wait for its first byte; ``nudge`` is sent first (a real shell says
    nothing until it is spoken to; the simulated console greets on its own)."""
    opened = open_console(host, guest)
    started = time.perf_counter()
    if nudge:
        opened.term.send(nudge)
    opened.term.first_byte()
    opened.first_byte = time.perf_counter() - started
    return opened


def session_count(host: Host, guest: str) -> int:
    return sum(1 for s in host.sessions() if guest in (s["guest"], s["uuid"]))


def close_console(host: Host, term: WsTerminal, guest: str) -> None:
    """End the session (a closed WebSocket alone leaves it open for a reattach, for
    reattach_grace) and wait until the host has cleaned it up."""
    term.close()
    response = host.delete(f"vms/{quote(guest, safe='')}/serial")
    if response.status_code not in (204, 404):
        raise BenchFailure(f"DELETE {guest}: {response.status_code} {response.text}")
    deadline = time.monotonic() + SESSION_END_TIMEOUT
    while session_count(host, guest):
        if time.monotonic() > deadline:
            raise BenchFailure(f"the session of {guest} did not end after DELETE")
        time.sleep(POLL)


def open_latencies(host: Host, guest: str, reps: int, nudge: bytes = b"") -> dict[str, float]:
    """Open→first byte ``reps`` times: p50 and p90 of the total, medians of each step."""
    runs = []
    for _ in range(reps):
        opened = open_first_byte(host, guest, nudge)
        close_console(host, opened.term, guest)
        runs.append(opened)
    totals = [run.total for run in runs]
    return {
        "p50_s": percentile(totals, 0.5),
        "p90_s": percentile(totals, 0.9),
        "rest_s": statistics.median(run.rest for run in runs),
        "handshake_s": statistics.median(run.handshake for run in runs),
        "first_byte_s": statistics.median(run.first_byte for run in runs),
    }
