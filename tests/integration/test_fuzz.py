"""Garbage in, never a 5xx out: random REST requests and WebSocket bytes, bounded counts.

REST inputs come from hypothesis; WebSocket garbage from a seeded generator. After each
batch the host must still open a console that works, and be idle once it is closed."""

from __future__ import annotations

import json
import random
import socket
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import PROMPT, WS_TIMEOUT, wait_for

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GARBAGE_INPUTS = 40

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
open_bodies = st.fixed_dictionaries(
    {},
    optional={
        "device": st.sampled_from(["serial0", "serial1", "console0", "", "../x"])
        | st.text(max_size=40)
        | json_values,
        "force": st.booleans() | json_values,
        "mode": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    open_bodies.map(lambda value: json.dumps(value).encode()),
)
guest_names = st.sampled_from(["mock-vm", "mock-off", "mock-noserial", "nope"]) | st.text(
    min_size=1, max_size=60
)


@pytest.fixture(scope="module")
def host(module_host):
    yield module_host
    assert module_host.running, module_host.log()
    module_host.close_all()
    module_host.assert_idle()


def check_answer(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400 and response.request.method != "HEAD":
        error = response.json()
        assert set(error) == {"code", "reason"} and error["code"].startswith("SCONS")


@FUZZ
@given(guest=guest_names, body=bodies, method=st.sampled_from(["POST", "DELETE", "PUT"]))
def test_random_console_requests_never_5xx(host, guest, body, method):
    response = host.request(
        method,
        f"vms/{quote(guest, safe='')}/serial",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    check_answer(response)
    if response.status_code == 201:
        host.close_all()


@FUZZ
@given(path=st.text(max_size=80), method=st.sampled_from(["GET", "POST", "DELETE", "HEAD"]))
def test_random_paths_never_5xx(host, path, method):
    check_answer(host.request(method, quote(path, safe="/?&=%")))


def echo_works(host, connect) -> None:
    console = connect(host.open()["ws_url"])
    console.banner()
    # Ctrl+C first: a reattached console keeps the half-typed line the garbage left.
    console.send("\x03echo ok\r")
    console.read_until(b"\r\nok\r\n" + PROMPT)  # after any recent output replayed first
    console.close()


def test_garbage_before_the_websocket_handshake(host, connect):
    rng = random.Random(1)
    ws_port = urlsplit(host.open()["ws_url"]).port
    host.close_all()
    for _ in range(GARBAGE_INPUTS):
        with socket.create_connection(("127.0.0.1", ws_port), timeout=WS_TIMEOUT) as raw:
            raw.sendall(rng.randbytes(rng.randrange(1, 2000)) + b"\r\n\r\n")
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(65536):  # the proxy answers or hangs up; never hangs
                pass
    echo_works(host, connect)
    host.close_all()
    host.assert_idle()


def test_garbage_frames_after_the_handshake(host, connect):
    rng = random.Random(2)
    for _ in range(GARBAGE_INPUTS):
        console = connect(host.open()["ws_url"])
        console.banner()
        console.ws.sock.sendall(rng.randbytes(rng.randrange(1, 4000)))
        console.close()
        # Detached (the next open reattaches), or ended if the garbage held a Ctrl+Q.
        wait_for(lambda: all(s["state"] == "detached" for s in host.sessions()), 5.0, "detach")
    echo_works(host, connect)
    host.close_all()
    host.assert_idle()
