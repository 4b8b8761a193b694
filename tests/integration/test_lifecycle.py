"""Sessions ending on their own, and the host stopping.

Tests that power a guest off or stop the host start their own host; the timeout tests
share one host started with ``--token-ttl 1 --idle-timeout 1``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from .helpers import (
    PROMPT,
    STOP_TIMEOUT,
    Host,
    assert_final_line,
    assert_pid_gone,
    children,
    expect_refused,
    free_port,
    idle_between_tests,
    kill_pids,
    pid_gone,
    processes_mentioning,
    shared_host,
    wait_for,
)


def test_poweroff_stops_guest(start_host, connect):
    host = start_host()
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    console.send("poweroff\r")
    data = console.read_until_close()
    assert data.startswith(b"poweroff\r\nreboot: Power down\r\n")
    assert data.endswith(b"\r\n[serialconsole] The guest stopped. (SCONS0104L)\r\n")
    assert_final_line(data, "SCONS0104L", "The guest stopped.")

    wait_for(lambda: host.get("vms/mock-vm").json()["state"] == "shutoff", 5.0, "mock-vm shut off")
    host.assert_idle()
    assert_pid_gone(pid)
    response = host.post("vms/mock-vm/serial")
    assert response.status_code == 409
    assert response.json()["code"] == "SCONS0002E"
    assert host.sessions() == []
    host.assert_dirs_empty()
    # the other guests are not affected
    other = host.open("mock-dual")
    connect(other["ws_url"]).banner()


@pytest.fixture(scope="module")
def short_timeouts_module_host() -> Iterator[Host]:
    yield from shared_host("--token-ttl", "1", "--idle-timeout", "1")


@pytest.fixture
def short_host(short_timeouts_module_host: Host, connect) -> Iterator[Host]:
    """A shared host whose tokens live 1 s and whose consoles close after 1 s idle."""
    yield from idle_between_tests(short_timeouts_module_host)


def test_token_ttl_expires_unused_session(short_host, connect):
    host = short_host
    expired = "mock-vm/serial0: write token expired unused"
    before = host.full_log().count(expired)
    opened = host.open("mock-vm")
    assert opened["expires_in"] == 1
    # The token's one second may be over before a request could see it waiting.
    wait_for(lambda: host.full_log().count(expired) > before, 6.0, "the token to expire")
    wait_for(lambda: host.sessions() == [], 6.0, "the unused session to end")
    host.assert_idle()
    expect_refused(opened["ws_url"])
    # a fresh token, used in time, works
    connect(host.open("mock-vm")["ws_url"]).banner()


def test_token_ttl_does_not_end_connected_session(short_host, connect):
    host = short_host
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    console.banner()
    host.wait_session_state("connected")
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # outlive the TTL, with traffic
        console.send("echo tick\r")
        assert console.read_until(PROMPT) == b"echo tick\r\ntick\r\n# "
    assert host.wait_session_state("connected")


def test_idle_timeout(short_host, connect):
    host = short_host
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    data = console.read_until_close(timeout=6)
    assert_final_line(data, "SCONS0103L", "No activity for 1 second; console closed.")
    host.assert_idle()
    assert_pid_gone(pid)


def test_sigterm_with_connected_client(start_host, connect):
    host = start_host()
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    console.banner()
    host.open("mock-dual", device="serial1")  # never connected
    pids = [s["pid"] for s in host.sessions()]
    assert len(pids) == 2
    host.wait_session_state("connected")

    started = time.monotonic()
    host.proc.terminate()
    data = console.read_until_close(timeout=STOP_TIMEOUT)
    assert_final_line(data, "SCONS0105L", "The host is shutting down.")
    try:
        code = host.proc.wait(STOP_TIMEOUT - (time.monotonic() - started))
    except subprocess.TimeoutExpired:
        raise AssertionError(f"host still running 10 s after SIGTERM\n{host.log()}") from None
    assert code == 0, host.log()
    for pid in pids:
        assert_pid_gone(pid)
    wait_for(lambda: not host.leftovers(), 5.0, "nothing left of the host")
    assert host.leftovers() == {}


def test_stopping_the_service_does_not_restart_the_proxy(start_host):
    """systemd (and Ctrl+C in a terminal) signal every process of the service, so websockify
    stops on its own moments before the host does: the supervisor must take that for the
    stop it is, not for a crash to restart from."""
    host = start_host()
    (proxy,) = [
        pid for pid in children(host.proc.pid) if pid in processes_mentioning("bridge.proxy")
    ]
    expect_refused(f"{host.ws_url}?token=unknown")  # the proxy serves, its handlers are set
    os.kill(proxy, signal.SIGTERM)
    wait_for(lambda: pid_gone(proxy), STOP_TIMEOUT, "websockify to stop on SIGTERM")
    assert host.terminate() == 0, host.log()
    assert "restarting it" not in host.log() and "websockify restarted" not in host.log()
    assert not processes_mentioning(str(host.run_dir)), host.log()


def test_guest_poweroff_ends_its_other_consoles(start_host, connect):
    """When a guest stops, none of its console sessions may stay open.

    mock-dual has two serial ports: powering off through serial0 stops the guest, so the
    session on serial1 must end too (as its libvirt stream would on a real hypervisor).
    """
    host = start_host()
    opened0 = host.open("mock-dual", device="serial0")
    opened1 = host.open("mock-dual", device="serial1")
    console0 = connect(opened0["ws_url"])
    console1 = connect(opened1["ws_url"])
    console0.banner()
    console1.banner()
    console0.send("poweroff\r")
    assert_final_line(console0.read_until_close(), "SCONS0104L")
    wait_for(
        lambda: host.get("vms/mock-dual").json()["state"] == "shutoff", 5.0, "mock-dual shut off"
    )
    try:
        wait_for(lambda: host.sessions() == [], 3.0, "no session left on the stopped guest")
    except AssertionError:
        raise AssertionError(
            f"guest mock-dual is shut off but its sessions stay open: {host.sessions()}"
        ) from None
    assert_final_line(console1.read_until_close(), "SCONS0104L")
    host.assert_idle()


def test_host_killed_leaves_no_process_behind(start_host, connect):
    """SIGKILL (crash, OOM killer) gives the host no chance to clean up; its children must
    still notice and end: console processes see their stdin close; websockify must too,
    or it keeps the WebSocket port and a restarted host cannot bind it."""
    ws_port = free_port()
    host = start_host("--ws-port", str(ws_port))
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    console.banner()
    console_pid = host.wait_session_state("connected")["pid"]
    host.proc.kill()
    host.proc.wait(STOP_TIMEOUT)
    assert_final_line(console.read_until_close(), "SCONS0105L")
    wait_for(lambda: pid_gone(console_pid), 5.0, "the console process to end")
    try:
        wait_for(
            lambda: not processes_mentioning(str(host.run_dir)), 3.0, "the host's children to end"
        )
    except AssertionError:
        left = processes_mentioning(str(host.run_dir))
        kill_pids(left)
        raise AssertionError(
            f"processes outlived the killed host (still holding WebSocket port {ws_port}, so "
            f"a restarted host cannot bind it): {left}"
        ) from None


def test_restart_after_crash_sweeps_stale_files(start_host, connect):
    first = start_host()
    stale = first.open("mock-vm")
    first.open("mock-dual", device="serial1")
    first.proc.kill()
    first.proc.wait(STOP_TIMEOUT)
    # the children notice the host is gone and end by themselves
    wait_for(lambda: not processes_mentioning(str(first.run_dir)), 5.0, "children to end")
    assert first.dir_entries()["tokens"], "the killed host left no token to sweep"

    second = start_host(run_dir=first.run_dir)
    second.assert_dirs_empty()
    assert second.sessions() == []
    fresh = second.open("mock-vm")
    ws_base = fresh["ws_url"].split("?", 1)[0]
    expect_refused(f"{ws_base}?token={stale['token']}")
    connect(fresh["ws_url"]).banner()
