"""Console processes forked by the zygote, seen from outside: REST, WebSocket and /proc."""

from __future__ import annotations

import os
import signal

from .helpers import (
    PROMPT,
    STOP_TIMEOUT,
    children,
    children_of,
    echo_works,
    pid_gone,
    processes_mentioning,
    wait_for,
)


def zygote_of(host) -> int:
    (zygote,) = children_of(host.proc.pid, "plugin_serialconsole.console.zygote")
    return zygote


def test_consoles_are_forked_by_the_zygote_and_reaped(start_host, connect):
    host = start_host()
    zygote = zygote_of(host)
    console = connect(host.open()["ws_url"])
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    assert children_of(zygote, "plugin_serialconsole.console --") == [pid]
    assert os.getsid(pid) == pid
    console.send("echo forked\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(b"forked\r\n# ")
    assert host.close().status_code == 204
    killed = connect(host.open("mock-dual", device="serial1")["ws_url"])
    killed.banner()
    victim = host.wait_session_state("connected", "mock-dual", "serial1")["pid"]
    os.kill(victim, signal.SIGKILL)
    killed.read_until_close()
    for gone in (pid, victim):
        wait_for(lambda gone=gone: pid_gone(gone), STOP_TIMEOUT, f"{gone} reaped")
    host.assert_idle()
    assert "Z" not in [*children(zygote).values(), *children(host.proc.pid).values()]


def test_zygote_killed_consoles_run_on_and_new_ones_open(start_host, connect):
    host = start_host()
    zygote = zygote_of(host)
    survivor = connect(host.open("mock-dual", device="serial0")["ws_url"])
    survivor.banner()
    os.kill(zygote, signal.SIGKILL)
    wait_for(lambda: pid_gone(zygote), STOP_TIMEOUT, "the killed zygote to be reaped")
    for _ in range(2):  # spawned, or forked by a new zygote
        echo_works(host, connect)
        host.wait_for_no_session("mock-vm", "serial0")
    survivor.send("echo survived\r")
    assert survivor.read_until(b"\r\n" + PROMPT).endswith(b"survived\r\n# ")
    host.wait_log(f"console zygote (pid {zygote}) unavailable")
    survivor.send(b"\x11")
    survivor.read_until_close()
    host.assert_idle()


def test_host_stop_leaves_no_zygote(start_host):
    host = start_host()
    zygote = zygote_of(host)
    host.open()
    assert host.terminate() == 0
    wait_for(lambda: pid_gone(zygote), STOP_TIMEOUT, "the zygote to end")
    assert not processes_mentioning(str(host.run_dir))
