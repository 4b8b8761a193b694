"""The WebSocket port under attack: half-open handshakes, the connection cap, the timeout.

Each test is the attack: bounded in count, from loopback addresses 127.0.0.2 and up, and
it ends by itself. The proxy must stay small while it lasts, serve a real console
meanwhile and be back to its baseline (processes, descriptors, memory) afterwards. It
serves every connection in its own process: it never starts another.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import websocket

from .attack import HalfOpenAttack, PeakWatch, proxy_footprint, timed
from .helpers import (
    PROMPT,
    STOP_TIMEOUT,
    WS_TIMEOUT,
    children,
    expect_refused,
    processes_mentioning,
    wait_for,
)

ATTEMPTS = 1000
MEMORY_SLACK_KIB = 4 * 1024


def proxy_of(host) -> int:
    (proxy,) = [
        pid for pid in children(host.proc.pid) if pid in processes_mentioning("bridge.proxy_main")
    ]
    return proxy


def ws_port(host) -> int:
    return urlsplit(host.ws_url).port


def receive_all(sock: socket.socket) -> bytes:
    """Everything until the proxy closes the connection (the socket's timeout bounds it)."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def banner_shown(console):
    console.banner()
    return console


def echo(console, word: str) -> None:
    console.send(f"echo {word}\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(f"{word}\r\n# ".encode())


def test_half_open_handshakes_cost_no_process_and_a_console_opens_meanwhile(start_host, connect):
    host = start_host()
    proxy = proxy_of(host)
    expect_refused(f"{host.ws_url}?token=unknown")  # the proxy is serving
    baseline = proxy_footprint(proxy)
    with HalfOpenAttack(ws_port(host)) as attack, PeakWatch(proxy) as watch:
        attack.open(ATTEMPTS // 2)
        console, opened_in = timed(lambda: banner_shown(connect(host.open()["ws_url"])))
        echo(console, "under-attack")
        # Answered while the attack's connections were still held open.
        assert attack.held_open() > 0, "the attack's connections were all gone already"
        attack.open(ATTEMPTS - ATTEMPTS // 2)
        echo(console, "still-there")
        console.send(b"\x11")
        console.read_until_close()
    print(
        f"\n{attack.attempts} half-open handshakes ({attack.failed} failed to connect): "
        f"console opened in {opened_in:.3f} s; proxy peak {watch.peak}, baseline {baseline}"
    )
    assert watch.peak["handlers"] == 0, watch.peak  # the proxy started no process
    host.assert_idle()

    def back_to_baseline() -> bool:
        now = proxy_footprint(proxy)
        settled = now["handlers"] == baseline["handlers"] and now["fds"] <= baseline["fds"]
        return settled and now["pss_kib"] <= baseline["pss_kib"] + MEMORY_SLACK_KIB

    try:
        wait_for(back_to_baseline, STOP_TIMEOUT, "the proxy back to its baseline")
    except AssertionError as error:
        raise AssertionError(f"{error}: {proxy_footprint(proxy)}, baseline {baseline}") from None
    print(f"after: {proxy_footprint(proxy)}")


def test_past_the_connection_cap_a_console_is_refused_until_there_is_room(start_host, connect):
    host = start_host("--max-ws-handlers", "2")
    proxy = proxy_of(host)
    first = connect(host.open("mock-vm")["ws_url"])
    second = connect(host.open("mock-dual", device="serial0")["ws_url"])
    first.banner()
    second.banner()
    third = host.open("mock-dual", device="serial1")["ws_url"]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(third, timeout=WS_TIMEOUT)
    assert refused.value.status_code == 503
    assert json.loads(refused.value.resp_body)["code"] == "SCONS0070E"
    assert "SCONS0070E" in host.log()
    assert not children(proxy)  # one process serves them all
    first.send(b"\x11")
    first.read_until_close()  # the proxy closed it: its place is free
    # The refusal did not spend the token: it opens the console once there is room.
    echo(banner_shown(connect(third)), "room-again")


def test_an_unfinished_handshake_is_closed_after_the_timeout(start_host):
    host = start_host("--ws-handshake-timeout", "1")
    proxy = proxy_of(host)
    with socket.create_connection(("127.0.0.1", ws_port(host)), timeout=10) as half:
        half.sendall(b"GET /?token=x HTTP/1.1\r\n")
        started = time.monotonic()
        answer = receive_all(half)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "SCONS0040E"
    assert not children(proxy), "a process was started for an unfinished handshake"
    print(f"\nclosed after {waited:.2f} s (timeout 1 s)")


def test_a_refused_token_is_answered_with_a_code_in_the_clients_language(start_host):
    host = start_host()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            f"{host.ws_url}?token=unknown", timeout=WS_TIMEOUT, header=["Accept-Language: de"]
        )
    assert refused.value.status_code == 403
    answer = json.loads(refused.value.resp_body)
    assert answer["code"] == "SCONS0072E"
    assert "Konsolen-Token" in answer["reason"]


def test_the_proxy_runs_without_numpy(start_host, connect):
    """websockify would load numpy (~15 MB) only to unmask client frames."""
    host = start_host()
    proxy = proxy_of(host)
    console = connect(host.open("mock-vm")["ws_url"])
    echo(banner_shown(console), "unmasked-right")
    assert "numpy" not in Path(f"/proc/{proxy}/maps").read_text(), "the proxy loaded numpy"


def test_a_handler_serves_one_request_per_connection(start_host):
    """A complete request that is not a WebSocket gets its answer and the connection ends:
    keep-alive would let an idle client hold a place among the connections served."""
    host = start_host()
    with socket.create_connection(("127.0.0.1", ws_port(host)), timeout=10) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = receive_all(plain)
    assert answer.startswith(b"HTTP/1.1 405")
