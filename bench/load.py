"""Memory and concurrency on the mock model: many sessions open at once, one per guest of a
generated test-driver file, each checked to echo correctly; memory and idle CPU around them."""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import procs
from bench.mock import PROMPT, start_host
from bench.opening import Opened, open_console
from bench.terminal import BenchFailure, percentile
from tests.integration.helpers import Host, write_test_guests

OPENERS = 16  # REST clients opening consoles at once
ECHO_ROUNDS = 5
SETTLE = 1.0


def open_all(host: Host, names: list[str]) -> list[Opened]:
    """Open one console per guest, OPENERS at a time; each has shown its prompt."""

    def open_one(name: str) -> Opened:
        opened = open_console(host, name)
        opened.term.read_until(PROMPT)
        return opened

    with ThreadPoolExecutor(OPENERS) as pool:
        return list(pool.map(open_one, names))


def echo_all(consoles: list[Opened]) -> tuple[int, list[float]]:
    """Every session echoes ECHO_ROUNDS unique lines, all sessions at once.

    Returns how many sessions answered every line correctly, and all round trips (s).
    """
    start = threading.Barrier(len(consoles))
    trips: list[float] = []
    correct: list[bool] = []

    def session(number: int, opened: Opened) -> None:
        start.wait()
        try:
            for round_ in range(ECHO_ROUNDS):
                line = b"s%dr%dx" % (number, round_)
                began = time.perf_counter()
                opened.term.send(b"echo " + line + b"\r")
                opened.term.read_until(b"\r\n" + line + b"\r\n" + PROMPT)
                trips.append(time.perf_counter() - began)
        except BenchFailure:
            correct.append(False)
            return
        correct.append(True)

    threads = [threading.Thread(target=session, args=item) for item in enumerate(consoles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(correct), trips


def console_pids(host: Host) -> list[int]:
    return [session["pid"] for session in host.sessions() if session.get("pid")]


def memory(host: Host) -> dict[str, float]:
    """Host process RSS, and the PSS of the host's whole tree (websockify, consoles)."""
    tree = procs.descendants(host.proc.pid)
    return {
        "host_rss_mb": procs.rss_mb(host.proc.pid),
        "tree_pss_mb": sum(procs.pss_mb(pid) for pid in tree),
        "processes": len(tree),
    }


def with_sessions(host: Host, names: list[str], idle_seconds: float) -> dict[str, float]:
    started = time.perf_counter()
    consoles = open_all(host, names)
    figures: dict[str, float] = {"open_all_s": time.perf_counter() - started}
    try:
        correct, trips = echo_all(consoles)
        figures.update(correct=correct, echo_p50_ms=1000 * percentile(trips, 0.5))
        figures["echo_p90_ms"] = 1000 * percentile(trips, 0.9)
        pids = console_pids(host)
        figures["console_rss_mb"] = statistics.median(procs.rss_mb(pid) for pid in pids)
        figures["console_rss_max_mb"] = max(procs.rss_mb(pid) for pid in pids)
        figures["console_pss_mb"] = statistics.median(procs.pss_mb(pid) for pid in pids)
        time.sleep(SETTLE)
        figures["idle_cpu_pct"] = procs.idle_cpu_percent(host.proc.pid, idle_seconds)
        figures.update({f"{k}_busy": v for k, v in memory(host).items()})
    finally:
        for opened in consoles:
            opened.term.close()
    return figures


def run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    xml, names = write_test_guests(workdir, args.sessions)
    limit = str(args.sessions + 10)
    host = start_host(
        "--max-sessions",
        limit,
        "--max-ws-handlers",
        limit,
        "--idle-timeout",
        "0",
        source=("--uri", f"test://{xml}"),
    )
    try:
        time.sleep(SETTLE)
        figures = {f"{k}_idle": v for k, v in memory(host).items()}
        figures["idle_cpu_pct_no_sessions"] = procs.idle_cpu_percent(host.proc.pid, args.idle)
        figures.update(with_sessions(host, names, args.idle))
        figures["sessions"] = len(names)
        return figures
    finally:
        host.finish()
