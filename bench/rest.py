"""The REST port under a connection attack (issue 13): how fast the guest list answers an
operator (127.0.0.1) while 500 idle and 50 trickling connections from other loopback
addresses are held open, and the host's threads, fds and memory before, at the peak and
after the attackers have gone."""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import requests

from bench import auditlog, procs
from bench.mock import start_host
from bench.terminal import BenchFailure, percentile
from tests.integration.helpers import HTTP_TIMEOUT, Host, wait_for
from tests.integration.rawhttp import (
    held_from_attackers,
    hold_connections,
    open_fds,
    peers,
    threads,
)

IDLE = 500
TRICKLING = 50
TRICKLE_EVERY = 1.0  # seconds between two bytes of each trickling connection
PARTIAL_HEAD = b"GET /plugins/serialconsole/vms HTTP/1.1\r\nHost: attacker\r\nX-Pad: " + b"a" * 64


def snapshot(pid: int) -> dict[str, float]:
    return {"threads": threads(pid), "fds": open_fds(pid), "rss_mb": procs.rss_mb(pid)}


def trickle(socks: list, stop: threading.Event) -> None:
    """One more byte of the never-ending head on each connection, every TRICKLE_EVERY s."""
    position = 1
    while not stop.wait(TRICKLE_EVERY) and position < len(PARTIAL_HEAD):
        for sock in socks:
            sock.sendall(PARTIAL_HEAD[position : position + 1])
        position += 1


def operator_latencies(host: Host, count: int) -> list[float]:
    """GET /vms ``count`` times, each on a new connection the host closes; seconds each."""
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        response = requests.get(
            host.api("vms"), headers={"Connection": "close"}, timeout=HTTP_TIMEOUT
        )
        latencies.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise BenchFailure(f"GET /vms under attack: {response.status_code}")
    return latencies


def under_attack(host: Host, count: int) -> dict[str, float]:
    pid = host.proc.pid
    idle, trickling = hold_connections(host.url, IDLE, TRICKLING, PARTIAL_HEAD[:1])
    stop = threading.Event()
    trickler = threading.Thread(target=trickle, args=(trickling, stop))
    try:
        wait_for(lambda: held_from_attackers(pid) == IDLE + TRICKLING, 10.0, "the attack held")
        trickler.start()
        latencies = operator_latencies(host, count)
        peak = snapshot(pid)
        if held_from_attackers(pid) != IDLE + TRICKLING:
            raise BenchFailure("the host let attack connections go during the measurement")
    finally:
        stop.set()
        if trickler.is_alive():
            trickler.join()
        for sock in idle + trickling:
            sock.close()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p90_ms": 1000 * percentile(latencies, 0.9),
        "max_ms": 1000 * max(latencies),
        **{f"{key}_peak": value for key, value in peak.items()},
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    config = workdir / "rest-attack.conf"
    config.write_text("[server]\nheader_timeout = 120\n")  # the attack outlasts the measurement
    host = start_host("--config", str(config))
    try:
        pid = host.proc.pid
        operator_latencies(host, 1)  # whatever a first request sets up
        wait_for(lambda: not peers(pid), 10.0, "no connection to the host")
        figures = {f"{key}_before": value for key, value in snapshot(pid).items()}
        quiet = operator_latencies(host, args.rest_requests)
        figures["quiet_p50_ms"] = 1000 * statistics.median(quiet)
        figures.update(under_attack(host, args.rest_requests))
        wait_for(lambda: not peers(pid), 10.0, "the attack connections closed")
        figures.update({f"{key}_after": value for key, value in snapshot(pid).items()})
        quiet = operator_latencies(host, args.rest_requests)
        figures["quiet_after_p50_ms"] = 1000 * statistics.median(quiet)
        figures.update(idle=IDLE, trickling=TRICKLING, requests=args.rest_requests)
        figures["audit"] = auditlog.run(workdir)
        return figures
    finally:
        host.finish()
