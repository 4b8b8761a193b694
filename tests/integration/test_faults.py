"""Faults the host must survive: killed children, and the session limit under pressure.

Recovery times are printed (run with ``-s`` to see them); the tests assert behaviour, not
speed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .helpers import PROMPT, STOP_TIMEOUT, children_of, echo_works, pid_gone, wait_for


def test_console_process_killed_is_cleaned_up(start_host, connect):
    host = start_host()
    console = connect(host.open()["ws_url"])
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    console.read_until_close()
    wait_for(lambda: pid_gone(pid), STOP_TIMEOUT, "the killed console to be reaped")
    host.assert_idle()
    echo_works(host, connect)
    print(
        f"\nconsole process kill -9 -> next console working: {time.monotonic() - killed_at:.2f} s"
    )


def test_websocket_proxy_killed_is_restarted(start_host, connect):
    host = start_host()
    (proxy,) = children_of(host.proc.pid, "bridge.proxy")
    survivor = connect(host.open("mock-dual", device="serial1")["ws_url"])
    survivor.banner()
    pid = host.wait_session_state("connected", "mock-dual", "serial1")["pid"]
    killed_at = time.monotonic()
    os.kill(proxy, signal.SIGKILL)
    wait_for(
        lambda: [p for p in children_of(host.proc.pid, "bridge.proxy") if p != proxy],
        15.0,
        "a new websockify process",
    )
    echo_works(host, connect)
    recovery = time.monotonic() - killed_at
    print(f"\nwebsockify kill -9 -> next console working: {recovery:.2f} s")
    # The proxy relayed every connection: one connected before the crash lost its
    # connection, not its console, and reattaches to the same console process.
    survivor.read_until_close()
    assert host.wait_session_state("detached", "mock-dual", "serial1")["pid"] == pid
    again = host.open("mock-dual", device="serial1")
    assert (again["reattached"], again["mode"]) == (True, "write")
    survivor = connect(again["ws_url"])
    survivor.send("echo survived\r")
    assert survivor.read_until(b"survived\r\n" + PROMPT).endswith(b"survived\r\n# ")
    host.wait_log("exited with -9")
    host.wait_log("websockify restarted")


def test_session_limit_answers_503_then_frees_up(start_host, connect):
    host = start_host("--max-sessions", "2")
    host.open("mock-vm")
    host.open("mock-dual", device="serial0")
    refused = host.post("vms/mock-dual/serial", json={"device": "serial1"})
    assert refused.status_code == 503
    assert refused.json()["code"] == "SCONS0018E"
    assert "2" in refused.json()["reason"]
    # takeover of a held device is not a new session: it stays allowed at the limit
    assert host.post("vms/mock-vm/serial", json={"force": True}).status_code == 201
    assert host.close("mock-vm").status_code == 204
    assert host.open("mock-dual", device="serial1")["device"] == "serial1"
    assert len(host.sessions()) == 2


def test_max_sessions_must_be_positive(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "plugin_serialconsole.host.cli", "--mock", "--max-sessions", "0",
         "--auth", "none", "--run-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "max_sessions" in done.stderr  # the plugin checks its [serialconsole] keys
