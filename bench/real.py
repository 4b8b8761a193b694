"""The real part: one booted tiny guest (libvirtd + QEMU), the pipeline side by side with a
libvirt console stream opened right here, in alternating order so drift favours neither.

It needs a libvirtd at qemu:///system, or root to start one the way tests/realguest does,
and the tiny guest (contrib/tinyguest/build-tinyguest). Without them it is skipped, and
says why.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from integration.helpers import Host
from realguest.daemons import URI, Daemons, running_as_root, unreachable
from realguest.guests import SINGLE, DirectConsole, TinyGuest, build, prompt

from bench.mock import start_host
from bench.opening import Opened, close_console, open_console, open_first_byte
from bench.terminal import (
    TIMEOUT,
    BenchFailure,
    Terminal,
    bulk_rate,
    echo_round_trips,
    percentile,
    seq_body,
    trip_figures,
)

SHELL = prompt(0)
PTY_POLL = 1.0  # QEMU polls a pty console nobody has open once a second
STEPS = ("rest", "handshake", "first_byte")


class Skipped(Exception):
    """The real part cannot run here; the message says why."""


class DirectTerminal(DirectConsole):
    """A direct libvirt console stream that scans each byte once, like ``WsTerminal``."""

    def read_until(self, marker: bytes, timeout: float = TIMEOUT) -> bytes:
        scanned = 0
        at = -1

        def found() -> bool:
            nonlocal scanned, at
            at = self.buffer.find(marker, scanned)
            scanned = max(0, len(self.buffer) - len(marker) + 1)
            return at >= 0 or bool(self.error)

        with self._changed:
            if not self._changed.wait_for(found, timeout) or at < 0:
                raise BenchFailure(f"{marker!r} not received ({self.error}): ...{self.tail()!r}")
            end = at + len(marker)
            data = bytes(self.buffer[:end])
            del self.buffer[:end]
            return data

    def first_byte(self, timeout: float = TIMEOUT) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.buffer or self.error, timeout):
                raise BenchFailure("direct console: no first byte")


@contextmanager
def booted_guest() -> Iterator[TinyGuest]:
    """libvirtd (the running one, or one started here as root) and one booted tiny guest."""
    daemons = Daemons(Path(tempfile.mkdtemp(prefix="sclv", dir="/tmp")))
    try:
        if (why := unreachable(URI)) is not None:
            if not running_as_root():
                raise Skipped(f"no libvirtd answers at {URI} ({why}) and only root starts one")
            try:
                daemons.start()
            except (OSError, RuntimeError) as error:
                raise Skipped(f"libvirtd could not be started: {error}") from error
        guest = TinyGuest(URI, _guest_dir() / SINGLE, "bench")
        try:
            yield guest.boot()
        finally:
            guest.destroy()
    finally:
        daemons.stop()
        shutil.rmtree(daemons.workdir, ignore_errors=True)


def _guest_dir() -> Path:
    try:
        return build()
    except Exception as error:  # noqa: BLE001 (any failure of the builder means: skip)
        raise Skipped(f"the tiny guest could not be built: {error}") from error


def direct_first_byte(guest: TinyGuest) -> float:
    """Open a libvirt console stream, press Enter: seconds until the first byte."""
    started = time.perf_counter()
    term = DirectTerminal(guest.conn, guest.domain)
    try:
        term.send(b"\r")
        term.first_byte()
        return time.perf_counter() - started
    finally:
        term.close()


def pipeline_first_byte(host: Host, guest: TinyGuest) -> Opened:
    opened = open_first_byte(host, guest.name, nudge=b"\r")
    close_console(host, opened.term, guest.name)
    return opened


def open_figures(host: Host, guest: TinyGuest, reps: int) -> dict[str, float]:
    """Open → first byte, pipeline and direct in turn, each after a random pause.

    QEMU notices a newly opened pty console only on its next once-a-second poll, so how long
    the first byte takes depends on when the console is opened; the pauses spread the
    opens over that second as a person's would be (the same for both sides).
    """
    pause = random.Random(6).uniform
    pipeline, direct = [], []
    for _ in range(reps):
        time.sleep(pause(0, PTY_POLL))
        pipeline.append(pipeline_first_byte(host, guest))
        time.sleep(pause(0, PTY_POLL))
        direct.append(direct_first_byte(guest))
    totals = [opened.total for opened in pipeline]
    return {
        "p50_s": percentile(totals, 0.5),
        "p90_s": percentile(totals, 0.9),
        **{f"{step}_s": statistics.median(getattr(o, step) for o in pipeline) for step in STEPS},
        "direct_p50_s": percentile(direct, 0.5),
        "direct_p90_s": percentile(direct, 0.9),
    }


def measure(term: Terminal, args: argparse.Namespace, body: bytes) -> dict[str, float]:
    figures = trip_figures(echo_round_trips(term, args.echoes, SHELL))
    figures["kb_s"] = bulk_rate(term, args.real_seq, SHELL, body) / 1000
    return figures


def side_by_side(host: Host, guest: TinyGuest, args: argparse.Namespace) -> dict:
    """Echo and throughput, pipeline and direct in turn, ``args.reps`` times."""
    body = seq_body(args.real_seq)

    def pipeline() -> dict[str, float]:
        opened = open_console(host, guest.name)
        try:
            return measure(opened.term, args, body)
        finally:
            close_console(host, opened.term, guest.name)

    def direct() -> dict[str, float]:
        term = DirectTerminal(guest.conn, guest.domain)
        try:
            return measure(term, args, body)
        finally:
            term.close()

    sides: dict[str, Callable[[], dict[str, float]]] = {"pipeline": pipeline, "direct": direct}
    runs: dict[str, list[dict[str, float]]] = {"pipeline": [], "direct": []}
    for rep in range(args.reps):
        for name in sorted(sides, reverse=rep % 2 == 1):
            runs[name].append(sides[name]())
    return runs


def summarize(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Medians per side; the overhead and ratio are medians of the pairs measured together."""
    pairs = list(zip(runs["pipeline"], runs["direct"], strict=True))

    def median(key: str, side: str) -> float:
        return statistics.median(run[key] for run in runs[side])

    return {
        "echo": {
            **{f"{side}_{key}": median(key, side) for side in runs for key in ("p50_ms", "p90_ms")},
            "overhead_p50_ms": statistics.median(p["p50_ms"] - d["p50_ms"] for p, d in pairs),
        },
        "throughput": {
            "pipeline_kb_s": median("kb_s", "pipeline"),
            "direct_kb_s": median("kb_s", "direct"),
            "ratio": statistics.median(p["kb_s"] / d["kb_s"] for p, d in pairs),
        },
    }


def run(args: argparse.Namespace) -> dict:
    with booted_guest() as guest:
        host = start_host(source=("--uri", URI))
        try:
            figures = {"open": open_figures(host, guest, args.opens)}
            figures.update(summarize(side_by_side(host, guest, args)))
        finally:
            host.finish()
        figures["guest"] = {"domain_start_s": guest.start_seconds}
        return figures
