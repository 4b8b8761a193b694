"""The zygote, run for real: console processes it forks on the simulated guest, their
sessions and reaping, its refusals, its death, and the launcher's fallback."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from plugin_serialconsole.console.spec import ConsoleSettings, ConsoleSpec
from plugin_serialconsole.console.zygote_protocol import Refused, parse_request
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.supervisor import launcher as launcher_module
from plugin_serialconsole.supervisor.launcher import ConsoleLauncher, SpawnedChild
from plugin_serialconsole.supervisor.process import ConsoleProcess
from plugin_serialconsole.supervisor.zygote_client import Zygote, ZygoteChild, ZygoteRefused
from tests.integration.helpers import children, pid_gone, wait_for

from .conftest import recv_until

TIMEOUT = 5.0


def spec(directory: Path, name: str = "c") -> ConsoleSpec:
    settings = ConsoleSettings(token_ttl=5, idle_timeout=0, grace=0, ring_size=4096)
    return ConsoleSpec(settings, "test:///default", "U", "mock-vm", "serial0", directory / name)


def echo(process: ConsoleProcess) -> None:
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(TIMEOUT)
    with client:
        client.connect(str(process.spec.socket_path))
        recv_until(client, b"# ")
        client.sendall(b"echo alive\r")
        assert recv_until(client, b"alive\r\n# ").endswith(b"alive\r\n# ")


@pytest.fixture
def zygote(short_dir):
    started = Zygote(short_dir).start()
    yield started
    started.stop()
    assert started.pid not in children(os.getpid()), "the zygote was not reaped"


@pytest.fixture
def processes():
    """Console processes a test starts; killed at its end, pass or fail."""
    started: list[ConsoleProcess] = []
    yield started
    for process in started:
        process.kill()


def test_forked_console_echoes_in_a_session_of_its_own(zygote, short_dir, processes):
    process = ConsoleProcess.start(spec(short_dir), zygote.launch)
    processes.append(process)
    assert isinstance(process._child, ZygoteChild)
    assert os.getsid(process.pid) == os.getpgid(process.pid) == process.pid
    assert process.pid in children(zygote.pid)
    # NULs between the arguments when they fit where the zygote's were, else spaces
    command = Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ")
    assert b" -m plugin_serialconsole.console -- '{" in command  # shell-quoted
    assert b'"uri": "test:///default"' in command
    assert str(short_dir / "c").encode() in command
    fds = {int(fd) for fd in os.listdir(f"/proc/{process.pid}/fd")}
    assert {0, 1, 2} <= fds
    echo(process)


def test_forked_consoles_log_as_consoles_at_their_own_level(short_dir, capfd, caplog):
    caplog.set_level(logging.INFO, "plugin_serialconsole.console")  # the zygote's level
    zygote = Zygote(short_dir).start()
    try:
        consoles = {
            level: ConsoleProcess.start(
                replace(spec(short_dir, level), log_level=level), zygote.launch
            )
            for level in ("INFO", "WARNING")
        }
        for process in consoles.values():
            process.request_stop(Reason.OPERATOR_ENDED)
            list(process._child.stdout)
            assert process.wait(TIMEOUT) == 0
        with pytest.raises(ZygoteRefused):
            zygote.launch(replace(spec(short_dir), socket_path=Path("/etc/c")))
    finally:
        zygote.stop()
    lines = capfd.readouterr().err.splitlines()
    ended = f"console[{consoles['INFO'].pid}] INFO console serial0 of U ended"
    assert any(ended in line for line in lines), lines
    assert not [line for line in lines if f"console[{consoles['WARNING'].pid}]" in line]
    refused = f"zygote[{zygote.pid}] WARNING refused a request"
    assert any(refused in line for line in lines), lines


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_forked_console_ends_on_a_signal_as_on_the_hosts_stop(zygote, short_dir, signum):
    process = ConsoleProcess.start(spec(short_dir), zygote.launch)  # ready: handlers in place
    try:
        os.kill(process.pid, signum)
        ended = json.loads(list(process._child.stdout)[-1])
        assert ended["event"] == "ended" and ended["reason"] == "host-stopping"
        assert process.wait(TIMEOUT) == 0
    finally:
        process.kill()


def test_stop_and_kill_are_reaped_with_their_status(zygote, short_dir):
    first = ConsoleProcess.start(spec(short_dir, "a"), zygote.launch)
    second = ConsoleProcess.start(spec(short_dir, "b"), zygote.launch)
    first.request_stop(Reason.OPERATOR_ENDED)
    assert list(first._child.stdout)[-1].startswith(b'{"event": "ended"')
    assert first.wait(TIMEOUT) == 0
    second.kill()
    assert second.wait(TIMEOUT) == -signal.SIGKILL
    for pid in (first.pid, second.pid):
        wait_for(lambda pid=pid: pid_gone(pid), TIMEOUT, f"{pid} reaped")
    assert "Z" not in children(zygote.pid).values()
    assert "Z" not in children(os.getpid()).values()


def test_wait_times_out_on_a_running_console(zygote, short_dir, processes):
    process = ConsoleProcess.start(spec(short_dir), zygote.launch)
    processes.append(process)
    with pytest.raises(subprocess.TimeoutExpired):
        process._child.wait(0.05)


@pytest.mark.parametrize("where", ["/etc/c", "{dir}/../c", "{dir}/sub/c"])
def test_consoles_outside_the_sockets_dir_are_refused(zygote, short_dir, where):
    outside = replace(spec(short_dir), socket_path=Path(where.format(dir=short_dir)))
    with pytest.raises(ZygoteRefused):
        zygote.launch(outside)
    assert not children(zygote.pid)
    assert zygote.alive  # and it goes on serving
    process = ConsoleProcess.start(spec(short_dir), zygote.launch)
    process.kill()


def test_requests_other_than_a_console_spec_are_refused(short_dir):
    good = spec(short_dir).to_json()
    assert parse_request(good.encode(), [3, 4], short_dir) == spec(short_dir)
    document = json.loads(good)
    bad = [
        b"not json",
        json.dumps({"argv": ["-c", "import os; os.system('id')"]}).encode(),
        json.dumps([document]).encode(),
        json.dumps({**document, "argv": ["-c", "x"]}).encode(),
        json.dumps({**document, "guest_name": 3}).encode(),
        json.dumps({**document, "guest_name": "a\0b"}).encode(),
        json.dumps({**document, "mode": "transcript"}).encode(),
        json.dumps({**document, "settings": {**document["settings"], "grace": "0"}}).encode(),
        good.replace('"grace": 0', '"grace": NaN').encode(),
        good.encode("utf-16"),  # JSON all the same, but the child's command line is UTF-8
        b"",
    ]
    for data in bad:
        with pytest.raises(Refused):
            parse_request(data, [3, 4], short_dir)
    with pytest.raises(Refused):
        parse_request(good.encode(), [3], short_dir)


def test_consoles_outlive_a_killed_zygote(zygote, short_dir):
    process = ConsoleProcess.start(spec(short_dir), zygote.launch)
    os.kill(zygote.pid, signal.SIGKILL)
    wait_for(lambda: not zygote.alive, TIMEOUT, "the host to see the zygote gone")
    echo(process)  # still serving, in its own session
    process.request_stop(Reason.OPERATOR_ENDED)
    list(process._child.stdout)
    assert process.wait(TIMEOUT) == -1  # ended; its status went with the zygote


def test_launcher_restarts_a_dead_zygote(short_dir, monkeypatch, caplog):
    monkeypatch.setattr(launcher_module, "RESTART_INTERVAL", 0.0)
    launcher = ConsoleLauncher(short_dir)
    launcher.start()
    try:
        first = launcher.zygote_pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: launcher.zygote_pid not in (None, first), TIMEOUT, "a new zygote")
        process = ConsoleProcess.start(spec(short_dir), launcher)
        assert isinstance(process._child, ZygoteChild)
        echo(process)
        process.kill()
    finally:
        launcher.stop()
    assert f"console zygote (pid {first}) unavailable: exited with -9" in caplog.text
    assert launcher.zygote_pid is None
    assert "Z" not in children(os.getpid()).values()


def test_launcher_spawns_while_a_zygote_that_died_young_waits(short_dir, processes):
    launcher = ConsoleLauncher(short_dir)
    launcher.start()
    try:
        os.kill(launcher.zygote_pid, signal.SIGKILL)
        wait_for(lambda: launcher.zygote_pid is None, TIMEOUT, "the launcher to see it gone")
        process = ConsoleProcess.start(spec(short_dir), launcher)
        processes.append(process)
        assert isinstance(process._child, SpawnedChild)
        echo(process)
    finally:
        launcher.stop()


def test_launcher_without_zygote_spawns(short_dir, processes):
    launcher = ConsoleLauncher(short_dir, use_zygote=False)
    launcher.start()
    process = ConsoleProcess.start(spec(short_dir), launcher)
    processes.append(process)
    assert isinstance(process._child, SpawnedChild)
    echo(process)
    launcher.stop()
