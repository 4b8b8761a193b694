"""Pipeline and direct side by side on one booted guest (bench parts ``real`` and
``remote``): echo round trips and ``seq`` throughput through the plugin's whole pipeline and
through a libvirt console stream opened right here, in alternating order so drift favours
neither; and the CPU each process spends per MB of ``seq`` (from /proc around each run), the
figure that noise on a shared machine disturbs least: the guest's TCG thread needs a core to
itself, so what the rest costs per MB is what the pipeline takes from the guest.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable

from bench import procs
from bench.opening import close_console, open_console
from bench.terminal import (
    TIMEOUT,
    BenchFailure,
    Terminal,
    bulk_rate,
    echo_round_trips,
    trip_figures,
)
from tests.integration.helpers import Host, seq_bytes
from tests.realguest.guests import DirectConsole, TinyGuest, prompt

SHELL = prompt(0)


class DirectTerminal(DirectConsole):
    """A direct libvirt console stream, as lean a client as the bench's WebSocket one.

    libvirt's thread wakes the reader only once the awaited marker (or anything, when none
    is awaited) has arrived, scanning each byte once: a reader woken for each of a UART's
    tiny messages would take CPU from the guest and flatter the pipeline.
    """

    _marker: bytes | None = None
    _scanned = 0

    def _worth_waking(self) -> bool:
        if self._marker is None:
            return bool(self.buffer)
        at = self.buffer.find(self._marker, self._scanned)
        self._scanned = max(0, len(self.buffer) - len(self._marker) + 1)
        return at >= 0

    def read_until(self, marker: bytes, timeout: float = TIMEOUT) -> bytes:
        with self._changed:
            self._marker, self._scanned = marker, 0
            try:
                self._changed.wait_for(lambda: marker in self.buffer or self.error, timeout)
            finally:
                self._marker = None
            at = self.buffer.find(marker)
            if at < 0:
                raise BenchFailure(f"{marker!r} not received ({self.error}): ...{self.tail()!r}")
            end = at + len(marker)
            data = bytes(self.buffer[:end])
            del self.buffer[:end]
            return data

    def first_byte(self, timeout: float = TIMEOUT) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.buffer or self.error, timeout):
                raise BenchFailure("direct console: no first byte")


class Side:
    """What one side (pipeline or direct) measured over all repetitions."""

    def __init__(self) -> None:
        self.trips: list[float] = []
        self.rates: list[float] = []
        self.cpu: dict[str, list[float]] = {}  # process -> CPU-s per MB, each repetition

    def measure(
        self, term: Terminal, args: argparse.Namespace, body: bytes, pids: dict[str, int]
    ) -> None:
        """Echo round trips, then ``seq`` with the CPU time of ``pids`` (name -> pid)."""
        self.trips += echo_round_trips(term, args.echoes, SHELL)
        before = {name: procs.cpu_seconds([pid]) for name, pid in pids.items()}
        self.rates.append(bulk_rate(term, args.real_seq, SHELL, body) / 1000)
        for name, pid in pids.items():
            spent = procs.cpu_seconds([pid]) - before[name]
            self.cpu.setdefault(name, []).append(spent / (len(body) / 1e6))


def side_by_side(
    host: Host, guest: TinyGuest, args: argparse.Namespace, shared: dict[str, int]
) -> dict[str, Side]:
    """Echo and throughput, pipeline and direct in turn (order alternating), ``args.reps``
    times; ``shared``: processes both sides use (libvirtd, the guest's QEMU), by name."""
    body = seq_bytes(args.real_seq)
    sides = {"pipeline": Side(), "direct": Side()}
    client = {"bench": os.getpid(), **shared}  # this process: the client of either side

    def pipeline() -> None:
        opened = open_console(host, guest.name)
        try:
            (console,) = [s["pid"] for s in host.sessions() if s["guest"] == guest.name]
            pids = {**client, "console": console, "proxy": procs.proxy_pid(host.proc.pid)}
            sides["pipeline"].measure(opened.term, args, body, pids)
        finally:
            close_console(host, opened.term, guest.name)

    def direct() -> None:
        term = DirectTerminal(guest.conn, guest.domain)
        try:
            sides["direct"].measure(term, args, body, client)
        finally:
            term.close()

    turns: dict[str, Callable[[], None]] = {"pipeline": pipeline, "direct": direct}
    for rep in range(args.reps):
        for name in sorted(turns, reverse=rep % 2 == 1):
            turns[name]()
    return sides


def summarize(sides: dict[str, Side]) -> dict[str, dict]:
    """Echo percentiles over all round trips of a side; throughput and CPU per MB: medians
    of repetitions. Alternating the order spreads any drift over both sides alike."""
    echo = {
        f"{name}_{k}": v
        for name, side in sides.items()
        for k, v in trip_figures(side.trips).items()
    }
    echo["overhead_p50_ms"] = echo["pipeline_p50_ms"] - echo["direct_p50_ms"]
    rates = {name: statistics.median(side.rates) for name, side in sides.items()}
    cpu = {
        name: {process: statistics.median(runs) for process, runs in side.cpu.items()}
        for name, side in sides.items()
    }
    return {
        "echo": echo,
        "throughput": {
            "pipeline_kb_s": rates["pipeline"],
            "direct_kb_s": rates["direct"],
            "ratio": rates["pipeline"] / rates["direct"],
            **{f"{name}_runs_kb_s": side.rates for name, side in sides.items()},
        },
        "cpu_s_per_mb": {
            **cpu,
            "clients_ratio": _clients(cpu["pipeline"]) / _clients(cpu["direct"]),
        },
    }


def _clients(cpu: dict[str, float]) -> float:
    """CPU-s per MB of a side's own processes (not libvirtd's or the guest's)."""
    return sum(cpu.get(name, 0.0) for name in ("bench", "console", "proxy"))
