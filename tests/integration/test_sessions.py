"""One writer per console device, force takeover, and the one-time WebSocket tokens."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import requests
import websocket

from .helpers import (
    PROMPT,
    WS_TIMEOUT,
    assert_final_line,
    assert_pid_gone,
    expect_refused,
)


def test_second_open_same_device_conflicts(host, connect):
    opened = host.open("mock-vm")
    response = host.post("vms/mock-vm/serial")
    assert response.status_code == 409
    assert response.json()["code"] == "SCONS0003E"
    # the first session is untouched and still usable
    (session,) = host.sessions()
    console = connect(opened["ws_url"])
    console.banner()
    assert host.wait_session_state("connected")["pid"] == session["pid"]
    response = host.post("vms/mock-vm/serial", json={"device": "serial0"})
    assert response.status_code == 409
    assert response.json()["code"] == "SCONS0003E"


def test_force_takeover_of_connected_client(host, connect):
    first_opened = host.open("mock-vm")
    first = connect(first_opened["ws_url"])
    first.banner()
    first_pid = host.wait_session_state("connected")["pid"]

    response = host.post("vms/mock-vm/serial", json={"force": True})
    assert response.status_code == 201, response.text
    second_opened = response.json()
    assert second_opened["token"] != first_opened["token"]

    data = first.read_until_close()
    assert_final_line(data, "SCONS0107L", "The console was taken over by another session.")
    assert_pid_gone(first_pid)

    (session,) = host.sessions()
    assert session["state"] == "waiting" and session["pid"] != first_pid
    second = connect(second_opened["ws_url"])
    second.banner()
    second.send("echo mine\r")
    assert second.read_until(PROMPT) == b"echo mine\r\nmine\r\n# "
    assert host.wait_session_state("connected")["pid"] == session["pid"]
    expect_refused(first_opened["ws_url"])


def test_force_takeover_of_waiting_session(host, connect):
    first_opened = host.open("mock-vm")
    (first_session,) = host.sessions()
    second_opened = host.open("mock-vm", force=True)
    assert_pid_gone(first_session["pid"])
    (session,) = host.sessions()
    assert session["pid"] != first_session["pid"]
    assert len(host.dir_entries()["tokens"]) == 1
    expect_refused(first_opened["ws_url"])
    connect(second_opened["ws_url"]).banner()


def test_force_on_free_device_just_opens(host, connect):
    opened = host.open("mock-vm", force=True)
    connect(opened["ws_url"]).banner()


def test_dual_devices_open_together(host, connect):
    opened0 = host.open("mock-dual", device="serial0")
    opened1 = host.open("mock-dual", device="serial1")
    assert (opened0["device"], opened1["device"]) == ("serial0", "serial1")
    assert opened0["token"] != opened1["token"]
    sessions = {s["device"]: s for s in host.sessions()}
    assert set(sessions) == {"serial0", "serial1"}
    assert sessions["serial0"]["pid"] != sessions["serial1"]["pid"]
    assert len(host.dir_entries()["consoles"]) == 2
    assert len(host.dir_entries()["tokens"]) == 2

    # the default device is the first one, which is taken
    response = host.post("vms/mock-dual/serial")
    assert response.status_code == 409 and response.json()["code"] == "SCONS0003E"

    console0 = connect(opened0["ws_url"])
    console1 = connect(opened1["ws_url"])
    console0.banner()
    console1.banner()
    console0.send("echo zero\r")
    console1.send("echo one\r")
    assert console0.read_until(PROMPT) == b"echo zero\r\nzero\r\n# "
    assert console1.read_until(PROMPT) == b"echo one\r\none\r\n# "

    # ending one device's session leaves the other alone
    assert host.close("mock-dual", device="serial1").status_code == 204
    assert_final_line(console1.read_until_close(), "SCONS0106L")
    assert_pid_gone(sessions["serial1"]["pid"])
    (left,) = host.sessions()
    assert left["device"] == "serial0"
    console0.send("echo still\r")
    assert console0.read_until(PROMPT) == b"echo still\r\nstill\r\n# "

    # DELETE without a device ends the rest
    assert host.close("mock-dual").status_code == 204
    assert_final_line(console0.read_until_close(), "SCONS0106L")
    assert host.sessions() == []
    host.assert_dirs_empty()


def test_delete_without_device_ends_all_of_the_guest(host, connect):
    opened0 = host.open("mock-dual", device="serial0")
    opened1 = host.open("mock-dual", device="serial1")
    other = host.open("mock-vm")
    consoles = [connect(opened0["ws_url"]), connect(opened1["ws_url"])]
    for console in consoles:
        console.banner()
    assert host.close("mock-dual").status_code == 204
    for console in consoles:
        assert_final_line(console.read_until_close(), "SCONS0106L")
    (session,) = host.sessions()
    assert session["guest"] == "mock-vm"
    connect(other["ws_url"]).banner()


# --------------------------------------------------------------------------- tokens


def test_token_reuse_refused(host, connect):
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    console.banner()
    expect_refused(opened["ws_url"])
    # the refused attempt did not disturb the connected client
    console.send("echo ok\r")
    assert console.read_until(PROMPT) == b"echo ok\r\nok\r\n# "


def test_token_reuse_after_client_left_refused(host, connect):
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    console.banner()
    console.close()
    host.wait_session_state("detached")
    expect_refused(opened["ws_url"])  # reattaching takes a new token


def test_foreign_origin_refused_without_burning_token(host, connect):
    opened = host.open("mock-vm")
    expect_refused(opened["ws_url"], origin="http://evil.example")
    expect_refused(opened["ws_url"], origin="null")
    expect_refused(opened["ws_url"], origin="file://127.0.0.1")
    (session,) = host.sessions()
    assert session["state"] == "waiting"
    assert len(host.dir_entries()["tokens"]) == 1
    console = connect(opened["ws_url"], suppress_origin=True)
    console.banner()


def test_same_hostname_origin_other_port_allowed(host, connect):
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"], origin="http://127.0.0.1:1")
    console.banner()


def test_default_origin_allowed(host, connect):
    """websocket-client sends Origin http://<host>:<ws port> unless told otherwise."""
    opened = host.open("mock-vm")
    connect(opened["ws_url"]).banner()


def test_garbage_tokens_refused(host, connect):
    opened = host.open("mock-vm")
    base = opened["ws_url"].split("?", 1)[0]
    for url in (
        base,
        f"{base}?token=",
        f"{base}?token=garbage",
        f"{base}?token={'A' * 43}",
        f"{base}?token={opened['token']}x",
        f"{base}?token=../../etc/passwd",
        f"{base}?token={opened['token'][:-1]}",
    ):
        expect_refused(url)
    # none of these spent the real token
    assert len(host.dir_entries()["tokens"]) == 1
    connect(opened["ws_url"]).banner()


def test_plain_http_to_websocket_port_is_harmless(host, connect):
    opened = host.open("mock-vm")
    port_url = opened["ws_url"].replace("ws://", "http://")
    with contextlib.suppress(requests.RequestException):
        requests.get(port_url, timeout=WS_TIMEOUT)
    assert len(host.dir_entries()["tokens"]) == 1
    connect(opened["ws_url"]).banner()


# --------------------------------------------------------------------------- races


def test_concurrent_opens_one_wins(host, connect):
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: host.post("vms/mock-vm/serial"), range(8)))
    winners = [r for r in responses if r.status_code == 201]
    losers = [r for r in responses if r.status_code != 201]
    assert len(winners) == 1, [(r.status_code, r.text) for r in responses]
    assert all(r.status_code == 409 and r.json()["code"] == "SCONS0003E" for r in losers)
    assert len(host.sessions()) == 1
    assert {name: len(files) for name, files in host.dir_entries().items()} == {
        "consoles": 1,
        "tokens": 1,
    }
    connect(winners[0].json()["ws_url"]).banner()


def test_concurrent_force_opens_leave_one_session(host, connect):
    first_opened = host.open("mock-vm")
    first = connect(first_opened["ws_url"])
    first.banner()
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(lambda _: host.post("vms/mock-vm/serial", json={"force": True}), range(4))
        )
    for response in responses:
        assert response.status_code in (201, 409), response.text
        if response.status_code == 409:
            assert response.json()["code"] == "SCONS0003E"
    opened = [r.json() for r in responses if r.status_code == 201]
    assert opened, [r.text for r in responses]
    assert_final_line(first.read_until_close(), "SCONS0107L")
    (session,) = host.sessions()
    assert session["state"] == "waiting"
    assert {name: len(files) for name, files in host.dir_entries().items()} == {
        "consoles": 1,
        "tokens": 1,
    }
    usable = []
    for document in opened:
        try:
            console = connect(document["ws_url"])
        except websocket.WebSocketBadStatusException as error:
            assert error.status_code == 403
            continue
        console.banner()
        usable.append(document["token"])
    assert len(usable) == 1, "exactly the last takeover's token opens the console"
