"""The mock part: ``serialconsole-host --mock`` and its simulated console, through the whole
pipeline (REST → websockify → console process) as a WebSocket client sees it."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.opening import close_console, open_console, open_latencies, post_sysrq
from bench.terminal import (
    bulk_rate,
    echo_round_trips,
    sysrq_round_trips,
    trip_figures,
)
from tests.integration.helpers import Host, seq_bytes

GUEST = "mock-vm"
PROMPT = b"# "


def start_host(*options: str, source: tuple[str, ...] = ("--mock",)) -> Host:
    """A host on ephemeral ports with its own short run directory."""
    run_dir = Path(tempfile.mkdtemp(prefix="scb", dir="/tmp"))
    return Host(*options, source=source, run_dir=run_dir).start()


def echo_figures(host: Host, reps: int, count: int) -> dict[str, float]:
    """Echo p50/p90 over ``count`` round trips in each of ``reps`` sessions."""
    trips: list[float] = []
    for _ in range(reps):
        opened = open_console(host, GUEST)
        try:
            trips += echo_round_trips(opened.term, count, PROMPT)
        finally:
            close_console(host, opened.term, GUEST)
    return trip_figures(trips)


def sysrq_figures(host: Host, count: int) -> dict[str, float]:
    """SysRq+m through the Send API until the simulated kernel's answer reaches the writer:
    REST, the libvirt test driver, the console pipe, the simulated guest, the WebSocket."""
    opened = open_console(host, GUEST)
    try:
        return trip_figures(sysrq_round_trips(opened.term, lambda: post_sysrq(host, GUEST), count))
    finally:
        close_console(host, opened.term, GUEST)


def throughput(host: Host, reps: int, last: int) -> dict[str, float]:
    """MB/s of ``seq LAST`` (checked byte for byte), median over ``reps`` runs in one session."""
    body = seq_bytes(last)
    opened = open_console(host, GUEST)
    try:
        rates = [bulk_rate(opened.term, last, PROMPT, body) / 1e6 for _ in range(reps)]
    finally:
        close_console(host, opened.term, GUEST)
    return {"mb_s": statistics.median(rates), "bytes": len(body)}


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    host = start_host()
    try:
        return {
            "open": open_latencies(host, GUEST, args.opens),
            "echo": echo_figures(host, args.reps, args.echoes),
            "sysrq": sysrq_figures(host, args.echoes),
            "throughput": throughput(host, args.reps, args.mock_seq),
        }
    finally:
        host.finish()
