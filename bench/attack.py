"""The WebSocket port under attack: half-open handshakes held from 127.0.0.2 and up (loopback
only, bounded by ``--attack-connections``), a console opened meanwhile, and what the proxy
costs at the attack's peak and once it is over."""

from __future__ import annotations

import argparse
import time
from urllib.parse import urlsplit

from bench.mock import GUEST, PROMPT, start_host
from bench.opening import close_console, open_first_byte
from bench.terminal import BenchFailure
from tests.integration.attack import HalfOpenAttack, PeakWatch, proxy_footprint
from tests.integration.helpers import Host, children, expect_refused, processes_mentioning

SETTLE_TIMEOUT = 15.0  # the attack's sockets time out after ws_handshake_timeout (5 s)
POLL = 0.05


def proxy_of(host: Host) -> int:
    proxies = [
        pid for pid in children(host.proc.pid) if pid in processes_mentioning("bridge.proxy_main")
    ]
    if len(proxies) != 1:
        raise BenchFailure(f"expected one websockify process, found {proxies}")
    return proxies[0]


def settle(proxy: int, baseline: dict[str, int]) -> dict[str, int]:
    """The proxy's footprint once its handlers and descriptors are back to the baseline."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        now = proxy_footprint(proxy)
        if now["handlers"] <= baseline["handlers"] and now["fds"] <= baseline["fds"]:
            return now
        if time.monotonic() > deadline:
            raise BenchFailure(f"the proxy did not settle after the attack: {now}")
        time.sleep(POLL)


def run(args: argparse.Namespace) -> dict[str, float]:
    host = start_host()
    try:
        proxy = proxy_of(host)
        expect_refused(f"{host.ws_url}?token=unknown")  # the proxy is serving
        baseline = settle(proxy, {"handlers": 0, "fds": 1 << 30})
        with HalfOpenAttack(urlsplit(host.ws_url).port) as attack, PeakWatch(proxy) as watch:
            attack.open(args.attack_connections)
            opened = open_first_byte(host, GUEST)
            opened.term.send(b"echo alive\r")
            opened.term.read_until(b"alive\r\n" + PROMPT)
            held = attack.held_open()
            close_console(host, opened.term, GUEST)
        after = settle(proxy, baseline)
    finally:
        host.finish()
    return {
        "attempts": attack.attempts,
        "held_at_open": held,
        "open_s": opened.total,
        "handlers_baseline": baseline["handlers"],
        "handlers_peak": watch.peak["handlers"],
        "handlers_after": after["handlers"],
        "pss_mb_baseline": baseline["pss_kib"] / 1024,
        "pss_mb_peak": watch.peak["pss_kib"] / 1024,
        "pss_mb_after": after["pss_kib"] / 1024,
        "fds_peak": watch.peak["fds"],
        "fds_after": after["fds"],
    }
