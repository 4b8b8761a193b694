"""The capture part (issue 15) on the mock model: a host capturing ``--sessions`` guests
of a generated test-driver file from its start; how long until all are captured, what the
captures cost at rest, open → first byte on a captured guest, the log's cost on
throughput (``seq`` through a captured console against one that is not captured), and
reading a log whose index is huge (``logread``)."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from urllib.parse import quote

from bench import logread, procs
from bench.mock import PROMPT, start_host
from bench.opening import open_console, open_first_byte
from bench.terminal import BenchFailure, bulk_rate, percentile
from tests.integration.helpers import Host, config_file, seq_bytes, write_test_guests

UP_TIMEOUT = 60.0
POLL = 0.05
SETTLE = 1.0


def captures(host: Host) -> list[dict]:
    return [s for s in host.sessions() if s.get("capture")]


def wait_until(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise BenchFailure(f"{what}: not within {timeout:g} s")
        time.sleep(POLL)


def leave(host: Host, guest: str, term) -> None:
    """End the client (DELETE); the capture stays, detached."""
    term.close()
    response = host.delete(f"vms/{quote(guest, safe='')}/serial")
    if response.status_code != 204:
        raise BenchFailure(f"DELETE {guest}: {response.status_code} {response.text}")

    def detached() -> bool:
        return any(s["guest"] == guest and s["state"] == "detached" for s in captures(host))

    wait_until(f"the client of {guest} to go", detached, 10.0)


def open_latency(host: Host, guest: str, reps: int) -> dict[str, float]:
    totals = []
    for _ in range(reps):
        opened = open_first_byte(host, guest)
        totals.append(opened.total)
        leave(host, guest, opened.term)
    return {"p50_s": percentile(totals, 0.5), "p90_s": percentile(totals, 0.9)}


def session_pid(host: Host, guest: str) -> int:
    return next(s["pid"] for s in host.sessions() if s["guest"] == guest)


def rates(host: Host, captured: str, plain: str, reps: int, last: int) -> dict[str, float]:
    """MB/s of ``seq LAST`` through a captured guest's console and through a console that is
    not captured, on the same host, taking turns so both see the same machine; and the
    console processes' CPU seconds per 100 MB (steadier than MB/s on a busy machine); and
    the PSS of the console process that is not captured, before any of it."""
    body = seq_bytes(last)
    logged, unlogged = open_console(host, captured), open_console(host, plain)
    pids = {"captured": session_pid(host, captured), "plain": session_pid(host, plain)}
    time.sleep(SETTLE)
    plain_pss = procs.pss_mb(pids["plain"])  # a console process a request started, idle
    figures: dict[str, list[float]] = {"captured": [], "plain": []}
    cpu = dict.fromkeys(pids, 0.0)
    try:
        for _ in range(reps):
            for name, term in (("captured", logged.term), ("plain", unlogged.term)):
                before = procs.cpu_seconds([pids[name]])
                figures[name].append(bulk_rate(term, last, PROMPT, body) / 1e6)
                cpu[name] += procs.cpu_seconds([pids[name]]) - before
    finally:
        leave(host, captured, logged.term)
        unlogged.term.close()
    speeds = {f"{name}_mb_s": statistics.median(values) for name, values in figures.items()}
    per_100mb = {f"{name}_cpu_s": 100e6 * cpu[name] / (reps * len(body)) for name in cpu}
    return speeds | per_100mb | {"plain_pss_mb": plain_pss}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    xml, names = write_test_guests(workdir, args.sessions)
    plain = names[-1]  # not captured: the console process a request starts, for comparison
    config = config_file(workdir, "serialconsole", capture_exclude=plain)
    started = time.perf_counter()
    host = start_host("--config", str(config), "--capture", "all", "--idle-timeout", "0",
                      "--state-dir", str(workdir / "state"), "--max-sessions", "5",
                      source=("--uri", f"test://{xml}"))  # fmt: skip
    try:
        wanted = len(names) - 1
        wait_until("all captures", lambda: len(captures(host)) == wanted, UP_TIMEOUT)
        figures: dict = {"up_s": time.perf_counter() - started, "guests": wanted}
        time.sleep(SETTLE)
        pss = [procs.pss_mb(session["pid"]) for session in captures(host)]
        figures.update(pss_mb=statistics.median(pss), pss_max_mb=max(pss))
        tree = procs.descendants(host.proc.pid)
        figures["tree_pss_mb"] = sum(procs.pss_mb(pid) for pid in tree)
        figures["idle_cpu_pct"] = procs.idle_cpu_percent(host.proc.pid, args.idle)
        figures["open"] = open_latency(host, names[0], args.opens)
        measured = rates(host, names[1], plain, args.reps, args.mock_seq)
        figures.update(measured)
        figures["throughput_ratio"] = measured["captured_mb_s"] / measured["plain_mb_s"]
        figures["log_read"] = logread.run(workdir)
        return figures
    finally:
        host.finish()
