"""Capture and the boot log (issue 15) on the mock model: a console process holds every
running guest's console from host start, requests join it, and what the guest prints is
logged under the state directory, across host restarts."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin_serialconsole.ids import console_id

from .helpers import PROMPT, UNICODE_GUEST, assert_final_line, run_refused_host, wait_for

MOCK_VM = "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001"
CAPTURED = {  # (guest, device) of the mock's running guests with consoles
    ("mock-vm", "serial0"), ("mock-dual", "serial0"), ("mock-dual", "serial1"),
    (UNICODE_GUEST, "serial0"),
}  # fmt: skip
GAP = re.compile(rb"-- serialconsole: not captured from (\S+) to (\S+): (.+?) --")


def captured(host) -> set[tuple[str, str]]:
    return {(s["guest"], s["device"]) for s in host.sessions() if s["capture"]}


def wait_captured(host, expected=CAPTURED) -> list[dict]:
    wait_for(lambda: captured(host) == expected, 10.0, f"captures of {sorted(expected)}")
    return host.sessions()


def log_of(host, guest: str = "mock-vm", **params: str):
    return host.get(f"vms/{guest}/serial/log", params=params or None)


def wait_log(host, text: bytes, guest: str = "mock-vm", **params: str) -> bytes:
    def logged() -> bytes | None:
        response = log_of(host, guest, **params)
        return (
            response.content if response.status_code == 200 and text in response.content else None
        )

    return wait_for(logged, 10.0, f"{text!r} in the log of {guest}")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def capturing(start_host, state_dir):
    def start(*options: str):
        return start_host("--capture", "all", "--state-dir", str(state_dir), *options)

    return start


def test_running_guests_are_captured_from_host_start_with_nobody_watching(capturing, state_dir):
    host = capturing()
    sessions = wait_captured(host)
    assert all(s["state"] == "detached" and s["viewers"] == [] for s in sessions)
    log = wait_log(host, b"Simulated serial console of guest mock-vm")
    assert b"-- serialconsole: capture started at " in log
    logs = state_dir / "logs"
    assert stat.S_IMODE(state_dir.stat().st_mode) == stat.S_IMODE(logs.stat().st_mode) == 0o700
    name = console_id(MOCK_VM, "serial0", "default")
    assert stat.S_IMODE((logs / f"{name}.log").stat().st_mode) == 0o600
    assert sorted(p.name for p in logs.iterdir()) == sorted(
        f"{console_id(uuid, device, 'default')}{suffix}"
        for uuid, device in [
            (MOCK_VM, "serial0"),
            ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000002", "serial0"),
            ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000002", "serial1"),
            ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000005", "serial0"),
        ]
        for suffix in (".log", ".idx")
    )  # named by hashed ids only, never by a guest's name
    listed = {g["name"]: g["log_written"] for g in host.get("vms").json()}
    assert listed["mock-vm"] is not None and listed["mock-off"] is None


def test_a_writer_joins_the_capture_and_gets_its_ring(capturing, connect):
    host = capturing()
    (pid,) = [s["pid"] for s in wait_captured(host) if s["guest"] == "mock-vm"]
    opened = host.open()
    assert opened["reattached"] is True  # no new console process, no new libvirt console
    writer = connect(opened["ws_url"])
    assert writer.banner().endswith(
        b"Simulated serial console of guest mock-vm. Type 'help'.\r\n# "
    )
    assert host.wait_session_state("connected")["pid"] == pid
    writer.send("echo logged\r")
    assert writer.read_until(PROMPT) == b"echo logged\r\nlogged\r\n# "
    wait_log(host, b"logged\r\n# ")


def test_delete_ctrl_q_and_grace_end_clients_never_the_capture(capturing, connect):
    host = capturing("--reattach-grace", "0")
    (pid,) = [s["pid"] for s in wait_captured(host) if s["guest"] == "mock-vm"]
    first = connect(host.open()["ws_url"])
    first.banner()
    host.wait_session_state("connected")
    assert host.close().status_code == 204
    assert_final_line(first.read_until_close(), "SCONS0106L")
    assert host.wait_session_state("detached")["pid"] == pid

    second = connect(host.open()["ws_url"])
    second.banner()
    host.wait_session_state("connected")
    second.send("\x11")
    assert_final_line(second.read_until_close(), "SCONS0102L")
    assert host.wait_session_state("detached")["pid"] == pid

    third = connect(host.open()["ws_url"])  # grace 0: the writer leaving ends only it
    third.banner()
    host.wait_session_state("connected")
    third.close()
    assert host.wait_session_state("detached")["pid"] == pid
    assert captured(host) == CAPTURED


def test_a_forced_open_sends_the_writer_away_not_the_capture(capturing, connect):
    host = capturing()
    (pid,) = [s["pid"] for s in wait_captured(host) if s["guest"] == "mock-vm"]
    first = connect(host.open()["ws_url"])
    first.banner()
    host.wait_session_state("connected")
    assert host.post("vms/mock-vm/serial").status_code == 409
    second = connect(host.open(force=True)["ws_url"])
    assert_final_line(first.read_until_close(), "SCONS0107L")
    second.send("echo mine\r")
    assert second.read_until(b"mine\r\n# ").endswith(b"echo mine\r\nmine\r\n# ")
    assert host.wait_session_state("connected")["pid"] == pid


def test_captures_do_not_count_against_max_sessions(capturing, connect):
    host = capturing("--max-sessions", "1")
    wait_captured(host)
    for guest in ("mock-vm", "mock-dual"):
        connect(host.open(guest)["ws_url"]).banner()


def test_a_guest_powering_off_ends_its_capture_and_the_log_says_so(capturing, connect):
    host = capturing()
    wait_captured(host)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    writer.send("poweroff\r")
    assert_final_line(writer.read_until_close(), "SCONS0104L")
    wait_for(lambda: ("mock-vm", "serial0") not in captured(host), 10.0, "the capture to end")
    log = wait_log(host, b"The guest stopped.")
    assert log.rstrip().endswith(b": The guest stopped. --")
    assert host.get("vms/mock-vm").json()["state"] == "shutoff"
    again = log_of(host)  # the log of a guest that is shut off now
    assert again.status_code == 200 and again.content == log


def test_a_host_restart_marks_the_gap_in_the_log(start_host, state_dir):
    options = ("--capture", "all", "--state-dir", str(state_dir))
    first = start_host(*options)
    wait_captured(first)
    wait_log(first, b"Simulated serial console of guest mock-vm")
    first.terminate()
    second = start_host(*options)
    wait_captured(second)
    log = wait_log(second, b"not captured from")
    assert b"capture ended at " in log and b"The host is shutting down." in log
    start, end, why = GAP.search(log).groups()
    assert start <= end and why == b"The host is shutting down."
    assert log.count(b"Simulated serial console of guest mock-vm") == 2


def test_log_since_and_until_cut_by_time(capturing, connect):
    host = capturing()
    wait_captured(host)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    wait_log(host, b"Type 'help'.")
    middle = datetime.now(UTC).timestamp() + 1.5  # past the first stretch's start
    wait_for(lambda: datetime.now(UTC).timestamp() > middle + 0.1, 5.0, "time to pass")
    writer.send("echo later\r")
    writer.read_until(b"later\r\n# ")
    whole = wait_log(host, b"later\r\n# ")
    since = log_of(host, since=f"{middle:.3f}").content
    until = log_of(host, until=datetime.fromtimestamp(middle, UTC).isoformat()).content
    assert b"later" in since and b"Type 'help'" not in since
    assert b"Type 'help'" in until and b"later" not in until
    assert until + since == whole


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "yesterday"}, "SCONS0045E"),
        ({"until": "nan"}, "SCONS0045E"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "SCONS0046E"),
        ({"device": "../x"}, "SCONS0007E"),
        ({"device": "serial9"}, "SCONS0004E"),
        ({"other": "1"}, "SCONS0007E"),
        ({"tail": "-1"}, "SCONS0007E"),
        ({"tail": "12345678901"}, "SCONS0007E"),
    ],
)
def test_log_refuses_bad_parameters(capturing, params, code):
    host = capturing()
    response = log_of(host, **params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_log_tail_answers_only_the_last_bytes(capturing):
    # The console page asks for the log's tail only; the server must not send it all.
    host = capturing()
    wait_captured(host)
    whole = wait_log(host, b"Type 'help'.")
    response = log_of(host, tail="100")
    assert response.status_code == 200, response.text
    assert response.content == whole[-100:]


def test_log_answers_404_for_a_device_never_captured(start_host):
    host = start_host()  # capture none
    response = log_of(host, "mock-off")
    assert response.status_code == 404 and response.json()["code"] == "SCONS0047E"


def test_log_is_a_safe_download(capturing):
    host = capturing()
    wait_captured(host)
    wait_log(host, b"Type 'help'.", UNICODE_GUEST)
    response = log_of(host, UNICODE_GUEST)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(
        r'attachment; filename="mock-_n_c_d_-_-serial0-boot-log-20\d{6}T\d{6}Z\.log"',
        response.headers["Content-Disposition"],
    )


def refused_start(state_dir: Path) -> subprocess.CompletedProcess:
    """A host started with captures in ``state_dir``, which must refuse it (exit 2)."""
    run_dir = Path(tempfile.mkdtemp(prefix="sc", dir="/tmp"))
    try:
        result = run_refused_host(run_dir, "--capture", "all", "--state-dir", str(state_dir))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    assert result.returncode == 2, result.stderr
    return result


def test_a_symlinked_logs_dir_is_refused_at_start(state_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    state_dir.mkdir(mode=0o700)
    os.symlink(elsewhere, state_dir / "logs")
    result = refused_start(state_dir)
    assert "is a symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_state_dir_writable_by_others_is_refused_at_start(state_dir):
    state_dir.mkdir(mode=0o700)
    state_dir.chmod(0o777)
    result = refused_start(state_dir)
    assert "writable by other users" in result.stderr


# ------------------------------------------------------------------ start and the mock's boot


def start(host, guest: str):
    return host.post(f"vms/{guest}/start")


def test_start_captures_the_first_byte_and_a_failing_boot_ends_in_emergency(capturing, connect):
    host = capturing()
    wait_captured(host)
    response = start(host, "mock-broken")
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["captured"]) == ("running", ["serial0"])
    log = wait_log(host, b"(emergency) # ", "mock-broken")
    assert log.startswith(b"\r\n-- serialconsole: guest started at ")
    first_output = log.split(b"--\r\n", 1)[1]
    assert first_output.startswith(b"[    0.000000] Linux version 6.1.0-simulated")
    assert b"You are in emergency mode." in log and log.endswith(b"(emergency) # ")
    opened = host.open("mock-broken")
    assert opened["reattached"] is True
    console = connect(opened["ws_url"])
    assert console.read_until(b"(emergency) # ") == first_output  # the ring: the whole boot
    console.send("echo rescued\r")
    assert console.read_until(b"(emergency) # ") == b"echo rescued\r\nrescued\r\n(emergency) # "


def test_each_boot_gets_a_separator(capturing, connect):
    host = capturing()
    wait_captured(host)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    writer.send("poweroff\r")
    writer.read_until_close()
    wait_for(lambda: host.get("vms/mock-vm").json()["state"] == "shutoff", 10.0, "shut off")
    assert start(host, "mock-vm").status_code == 200

    # The first boot's output is in the log already: wait for the second's, after its line.
    def booted_again() -> bytes | None:
        log = log_of(host, "mock-vm").content
        _, started, after = log.partition(b"guest started at ")
        return log if started and b"simulated guest: booted\r\n" in after else None

    log = wait_for(booted_again, 10.0, "the second boot in the log")
    assert log.count(b"-- serialconsole: guest started at ") == 1  # the boot after poweroff
    assert log.index(b"The guest stopped.") < log.index(b"guest started at")


def test_start_refuses_a_running_guest_and_works_without_capture(start_host):
    host = start_host()  # capture none
    response = start(host, "mock-vm")
    assert response.status_code == 409 and response.json()["code"] == "SCONS0049E"
    response = start(host, "mock-off")
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["captured"]) == ("running", [])
    assert host.sessions() == []
    bad = host.post("vms/mock-vm/start", json={"paused": True})
    assert bad.status_code == 400 and bad.json()["code"] == "SCONS0007E"
