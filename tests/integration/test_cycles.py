"""1000 open/close cycles leave nothing behind: no zombie, no file, no leaked descriptor."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import websocket

from .helpers import (
    UNICODE_GUEST,
    WS_TIMEOUT,
    Console,
    open_fds,
    wait_equal,
    wait_for,
    zombies_of,
)

CYCLES = 1000
WARMUP = 20
CONNECT_EVERY = 10  # every tenth cycle also connects, reads the banner and presses Ctrl+Q
DEVICES = [("mock-vm", "serial0"), ("mock-dual", "serial0"), ("mock-dual", "serial1"),
           (UNICODE_GUEST, "serial0")]  # fmt: skip


def cycle(host, guest: str, device: str, number: int) -> None:
    opened = host.open(guest, device=device)
    if number % CONNECT_EVERY:
        response = host.close(guest, device)
        assert response.status_code == 204, response.text
        return
    console = Console(websocket.create_connection(opened["ws_url"], timeout=WS_TIMEOUT))
    try:
        console.banner()
        console.send(b"\x11")
        console.read_until_close()
    finally:
        console.close()
    host.wait_for_no_session(guest, device)


def run_cycles(host, count: int) -> None:
    def worker(lane: int) -> None:
        guest, device = DEVICES[lane]
        for number in range(lane, count, len(DEVICES)):
            cycle(host, guest, device, number)

    with ThreadPoolExecutor(len(DEVICES)) as pool:
        for result in [pool.submit(worker, lane) for lane in range(len(DEVICES))]:
            result.result()


def test_thousand_open_close_cycles_leave_nothing(start_host):
    host = start_host()
    run_cycles(host, WARMUP)
    host.assert_idle()
    fds_before = open_fds(host.proc.pid)
    started = time.monotonic()
    run_cycles(host, CYCLES)
    elapsed = time.monotonic() - started
    host.assert_idle()
    # The host closes a session's descriptors and reaps its children a moment after the
    # session is gone from its list: wait for the counts themselves.
    wait_equal(lambda: zombies_of(host.proc.pid), [], 5.0, "the host's zombies")
    fds_after = wait_for(
        lambda: (fds := open_fds(host.proc.pid)) <= fds_before + 2 and fds,
        5.0,
        f"the host's descriptors back to {fds_before} (+2)",
    )
    print(
        f"\n{CYCLES} cycles in {elapsed:.1f} s: host fds {fds_before} -> {fds_after}, "
        f"files left {host.dir_entries()}"
    )
