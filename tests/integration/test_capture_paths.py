"""The main console paths with ``capture = all`` (the default; most of the suite runs with
``--capture none``): reattach, viewers, idle timeout and logout end clients, never the
capture; a guest that stops takes its capture with it and leaves nothing behind.
(Open, takeover, DELETE, Ctrl+Q, grace, guest stop and host stop with a capture:
test_capture.py; every host there is stopped by ``finish``, which checks that nothing
is left.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugin_serialconsole.ids import console_id

from .helpers import (
    HTTP_TIMEOUT,
    PROMPT,
    SESSION_COOKIE,
    assert_final_line,
    auth_url,
    connect,
    login,
    processes_mentioning,
    wait_for,
    write_users_file,
)
from .test_capture import captured, wait_captured

IDLE_TIMEOUT = "SCONS0103L"
LOGIN_ENDED = "SCONS0114L"


@pytest.fixture
def capturing(start_host, tmp_path: Path):
    def start(*options: str):
        return start_host("--capture", "all", "--state-dir", str(tmp_path / "state"), *options)

    return start


def capture_pid(host) -> int:
    (pid,) = [s["pid"] for s in wait_captured(host) if s["guest"] == "mock-vm"]
    return pid


def test_a_writer_that_drops_reattaches_to_the_capture_with_its_output(capturing):
    host = capturing("--reattach-grace", "30")
    pid = capture_pid(host)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    writer.send("echo before the drop\r")
    writer.read_until(b"before the drop\r\n" + PROMPT)
    writer.close()  # the network drops: no DELETE
    assert host.wait_session_state("detached")["pid"] == pid
    opened = host.open()
    assert opened["reattached"] is True
    again = connect(opened["ws_url"])
    replay = again.read_until(b"before the drop\r\n" + PROMPT)  # the ring comes first
    assert replay.startswith(b"[    0.000000] Linux version")
    assert host.wait_session_state("connected")["pid"] == pid


def test_a_viewer_watches_a_captures_writer(capturing):
    host = capturing()
    pid = capture_pid(host)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    viewer = connect(host.open(mode="view")["ws_url"])
    viewer.banner()
    session = host.wait_viewer_states(["connected"])
    assert (session["state"], session["pid"]) == ("connected", pid)
    writer.send("echo seen\r")
    assert viewer.read_until(b"seen\r\n" + PROMPT).endswith(b"echo seen\r\nseen\r\n# ")
    viewer.close()
    assert host.wait_viewer_states([])["pid"] == pid


def test_the_idle_timeout_ends_the_client_not_the_capture(capturing):
    host = capturing("--idle-timeout", "1")
    pid = capture_pid(host)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    assert_final_line(writer.read_until_close(), IDLE_TIMEOUT)
    assert host.wait_session_state("detached")["pid"] == pid
    assert ("mock-vm", "serial0") in captured(host)


def test_a_logout_ends_its_clients_not_the_capture(capturing, tmp_path: Path):
    users = write_users_file(tmp_path / "users", "alice")
    host = capturing("--auth", "users", "--users-file", str(users))
    alice = login(host)

    def capture_pids() -> list[int]:
        listed = alice.get(host.api("sessions"), timeout=HTTP_TIMEOUT).json()
        return [s["pid"] for s in listed if s["guest"] == "mock-vm" and s["capture"]]

    (pid,) = wait_for(capture_pids, 10.0, "mock-vm's capture")  # it starts in the background
    opened = alice.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT)
    assert opened.status_code == 201, opened.text
    writer = connect(opened.json()["ws_url"], alice.cookies[SESSION_COOKIE])
    writer.banner()
    watcher = login(host)  # another login of alice's, to look on after the logout

    def state() -> tuple[str, int] | None:
        response = watcher.get(host.api("sessions"), timeout=HTTP_TIMEOUT)
        mine = [s for s in response.json() if s["guest"] == "mock-vm"]
        return (mine[0]["state"], mine[0]["pid"]) if mine else None

    wait_for(lambda: state() == ("connected", pid), 5.0, "alice's writer connected")
    out = alice.post(auth_url(host, "logout"), timeout=HTTP_TIMEOUT)
    assert out.status_code == 204, out.text
    assert_final_line(writer.read_until_close(), LOGIN_ENDED)
    wait_for(lambda: state() == ("detached", pid), 5.0, "the capture without its client")


def test_a_stopping_guest_takes_its_capture_and_leaves_nothing_behind(capturing):
    host = capturing()
    pid = capture_pid(host)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    writer.send("poweroff\r")
    writer.read_until_close()
    wait_for(lambda: ("mock-vm", "serial0") not in captured(host), 10.0, "the capture to end")
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 5.0, "the capture process to be reaped")
    assert "mock-vm" not in {s["guest"] for s in host.sessions()}
    gone = console_id(host.get("vms/mock-vm").json()["uuid"], "serial0", "default")
    assert not [p for p in (host.run_dir / "consoles").iterdir() if p.name.startswith(gone)]
    assert host.dir_entries()["tokens"] == []  # the writer's token went with it
    assert pid not in processes_mentioning(str(host.run_dir))
