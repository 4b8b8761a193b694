"""The console process's invitations, run for real on the simulated guest: a socket per
client, reattaching within the grace period, viewers, transcripts."""

from __future__ import annotations

import json
import socket
import stat
import time

import pytest

from .conftest import assert_ended, connected, ready

VIEW = "0" * 24 + "-0000000a"
VIEW2 = "0" * 24 + "-0000000b"
WRITE = "0" * 24 + "-0000000c"


def join_viewer(process):
    """Invite a viewer to ``process``, connect it and consume its ``connected`` report."""
    process.invite(VIEW)
    viewer = process.connect(VIEW)
    process.event()
    return viewer


def test_invitation_is_a_private_socket_for_one_client(console_process):
    process = console_process()
    writer = connected(process)
    answer = process.invite(VIEW)
    assert answer["event"] == "invited" and answer["socket"] == VIEW
    assert answer["replay"] == len(
        b"\r\nSimulated serial console of guest mock-vm. Type 'help'.\r\n# "
    )
    path = process.socket_path.parent / VIEW
    assert stat.S_ISSOCK(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600
    viewer = process.connect(VIEW)
    assert process.event() == {"event": "connected", "socket": VIEW, "mode": "view"}
    assert not path.exists()  # one client per invitation
    assert process.recv_until(viewer, b"# ").startswith(b"\r\nSimulated serial console")
    writer.sendall(b"echo both\r")
    for client in (writer, viewer):
        assert process.recv_until(client, b"both\r\n# ").endswith(b"echo both\r\nboth\r\n# ")


def test_viewer_input_never_reaches_the_guest(console_process):
    process = console_process()
    writer = connected(process)
    viewer = join_viewer(process)
    process.recv_until(viewer, b"# ")
    viewer.sendall(b"echo leaked\r")
    writer.sendall(b"echo mine\r")
    seen = process.recv_until(writer, b"mine\r\n# ")
    assert seen == b"echo mine\r\nmine\r\n# "
    assert process.recv_until(viewer, b"mine\r\n# ") == seen


def test_viewer_ctrl_q_ends_only_that_viewer(console_process):
    process = console_process()
    writer = connected(process)
    viewer = join_viewer(process)
    viewer.sendall(b"\x11")
    rest = process.recv_until_eof(viewer)
    assert rest.endswith(b"[serialconsole] Disconnected (Ctrl+Q). (SCONS0102L)\r\n")
    assert process.event() == {"event": "left", "socket": VIEW, "mode": "view", "reason": "ctrl-q"}
    writer.sendall(b"echo on\r")
    assert process.recv_until(writer, b"on\r\n# ").endswith(b"echo on\r\non\r\n# ")


def test_writer_ctrl_q_ends_every_client_with_the_final_line(console_process):
    process = console_process()
    writer = connected(process)
    viewer = join_viewer(process)
    writer.sendall(b"echo bye\r\x11")
    rest = assert_ended(process, writer, "ctrl-q")
    assert b"bye\r\n# " in rest
    viewed = process.recv_until_eof(viewer)
    assert b"bye\r\n# " in viewed
    assert viewed.endswith(b"[serialconsole] Disconnected (Ctrl+Q). (SCONS0102L)\r\n")


def test_one_writer_at_a_time(console_process):
    process = console_process()
    connected(process)
    answer = process.invite(WRITE, mode="write")
    assert answer == {"event": "refused", "socket": WRITE, "error": "the console has a writer"}
    assert not (process.socket_path.parent / WRITE).exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"socket": "../escape", "mode": "view", "ttl": 5},
        {"socket": "c", "mode": "view", "ttl": 5},
        {"socket": VIEW, "mode": "admin", "ttl": 5},
        {"socket": VIEW, "mode": "view", "ttl": 0},
        {"socket": VIEW, "mode": "view", "ttl": "5"},
        {"socket": VIEW, "mode": "view", "ttl": float("inf")},
        {"socket": VIEW, "mode": "view"},
    ],
)
def test_malformed_invitations_are_refused(console_process, fields):
    process = console_process()
    client = connected(process)
    process.send_stdin(json.dumps({"event": "invite", **fields}).encode() + b"\n")
    answer = process.event()
    assert answer["event"] == "refused" and answer["error"] == "malformed invitation"
    assert sorted(p.name for p in process.socket_path.parent.iterdir()) == []
    client.sendall(b"echo still\r")
    process.recv_until(client, b"still\r\n# ")


def test_an_unused_invitation_expires(console_process):
    process = console_process()
    client = connected(process)
    process.invite(VIEW, ttl=0.3)
    assert process.event() == {"event": "expired", "socket": VIEW, "mode": "view"}
    assert not (process.socket_path.parent / VIEW).exists()
    client.sendall(b"echo alive\r")
    process.recv_until(client, b"alive\r\n# ")


def test_writer_gone_then_reattaching_gets_the_history(console_process):
    process = console_process(grace=5)
    writer = connected(process)
    writer.sendall(b"echo before\r")
    process.recv_until(writer, b"before\r\n# ")
    writer.close()
    assert process.event() == {"event": "left", "socket": "c", "mode": "write"}
    answer = process.invite(WRITE, mode="write")
    assert answer["event"] == "invited" and answer["replay"] > 0
    again = process.connect(WRITE)
    assert process.event()["event"] == "connected"
    history = process.recv_until(again, b"before\r\n# ")
    assert history.startswith(b"\r\nSimulated serial console") and b"echo before" in history
    again.sendall(b"echo after\r")
    assert process.recv_until(again, b"after\r\n# ") == b"echo after\r\nafter\r\n# "


def test_nobody_back_within_the_grace_period_ends_it(console_process):
    process = console_process(grace=0.5)
    writer = connected(process)
    started = time.monotonic()
    writer.close()
    assert process.event()["event"] == "left"
    event = process.event()
    assert event == {"event": "ended", "reason": "nobody-reattached", "params": {"seconds": "0.5"}}
    assert time.monotonic() - started >= 0.45
    assert process.wait() == 0


def test_an_invitation_keeps_a_detached_process_for_its_ttl(console_process):
    process = console_process(grace=0.2)
    writer = connected(process)
    writer.close()
    process.event()
    process.invite(WRITE, mode="write", ttl=30)  # outlives any stall of a loaded machine
    time.sleep(0.6)  # past the grace period: the invitation keeps it
    again = process.connect(WRITE)
    assert process.event()["event"] == "connected"
    process.recv_until(again, b"# ")


def test_a_viewer_keeps_the_session_after_the_writer_left(console_process):
    process = console_process(grace=0.3)
    writer = connected(process)
    viewer = join_viewer(process)
    writer.close()
    assert process.event() == {"event": "left", "socket": "c", "mode": "write"}
    time.sleep(0.6)
    assert process.proc.poll() is None
    viewer.close()
    assert process.event()["event"] == "left"
    assert process.event()["reason"] == "nobody-reattached"


def test_view_only_start_then_a_writer_joins(console_process):
    process = console_process(mode="view")
    ready(process)
    viewer = process.connect()
    assert process.event() == {"event": "connected", "socket": "c", "mode": "view"}
    viewer.sendall(b"echo ignored\r")
    process.invite(WRITE, mode="write")
    writer = process.connect(WRITE)
    process.event()
    writer.sendall(b"echo joined\r")
    assert process.recv_until(writer, b"joined\r\n# ").endswith(
        b"\r\n# echo joined\r\njoined\r\n# "
    )
    assert b"ignored" not in process.recv_until(viewer, b"joined\r\n# ")


def test_transcript_is_the_recent_output_then_end_of_file(console_process):
    process = console_process(ring_size=4096)
    writer = connected(process)
    writer.sendall(b"seq 3000\r")
    process.recv_until(writer, b"\r\n3000\r\n# ")
    process.invite(WRITE[:-1] + "d", mode="transcript")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as reader:
        reader.connect(str(process.socket_path.parent / (WRITE[:-1] + "d")))
        transcript = process.recv_until_eof(reader)
    assert len(transcript) == 4096
    assert transcript.endswith(b"\r\n2999\r\n3000\r\n# ")
    writer.sendall(b"echo unaffected\r")
    process.recv_until(writer, b"unaffected\r\n# ")


def test_a_viewer_that_falls_behind_skips_ahead_and_is_told(console_process):
    process = console_process(ring_size=4096)
    writer = connected(process)
    process.invite(VIEW)
    viewer = process.connect(VIEW)
    viewer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    process.event()
    writer.sendall(b"seq 300000\r")
    process.recv_until(writer, b"\r\n300000\r\n# ", timeout=30)
    seen = process.recv_until(viewer, b"\r\n300000\r\n# ", timeout=30)
    assert b"bytes of output skipped. (SCONS0113L)" in seen
    assert len(seen) < 2_000_000  # far less than the 2.1 MB the writer got


def drop(process, name: str, reason: str = "login-ended") -> None:
    """The host's ``drop`` line for the client (or invitation) of socket ``name``."""
    process.send_stdin(json.dumps({"event": "drop", "socket": name, "reason": reason}).encode())
    process.send_stdin(b"\n")


LOGIN_ENDED_LINE = b"\r\n[serialconsole] Your login session ended. (SCONS0114L)\r\n"


def test_a_dropped_viewer_gets_the_final_line_and_the_writer_goes_on(console_process):
    process = console_process()
    writer = connected(process)
    viewer = join_viewer(process)
    process.recv_until(viewer, b"# ")
    drop(process, VIEW)
    assert process.recv_until_eof(viewer).endswith(LOGIN_ENDED_LINE)
    assert process.event() == {
        "event": "left",
        "socket": VIEW,
        "mode": "view",
        "reason": "login-ended",
    }
    writer.sendall(b"echo on\r")
    assert process.recv_until(writer, b"on\r\n# ").endswith(b"echo on\r\non\r\n# ")


def test_a_dropped_writer_leaves_the_console_detached_for_its_grace(console_process):
    process = console_process(mode="view", grace=5)
    ready(process)
    viewer = process.connect()
    process.event()
    process.invite(WRITE, mode="write")
    writer = process.connect(WRITE)
    process.event()
    process.recv_until(writer, b"# ")
    drop(process, WRITE)
    assert process.recv_until_eof(writer).endswith(LOGIN_ENDED_LINE)
    assert process.event() == {
        "event": "left",
        "socket": WRITE,
        "mode": "write",
        "reason": "login-ended",
    }
    answer = process.invite(WRITE[:-1] + "d", mode="write")  # the writer's place is free
    assert answer["event"] == "invited"
    again = process.connect(WRITE[:-1] + "d")
    assert process.event()["event"] == "connected"
    again.sendall(b"echo back\r")
    process.recv_until(again, b"back\r\n# ")
    assert b"back\r\n# " in process.recv_until(viewer, b"back\r\n# ")


def test_a_dropped_invitation_is_withdrawn_at_once(console_process):
    process = console_process()
    writer = connected(process)
    process.invite(VIEW)
    drop(process, VIEW)
    assert process.event() == {"event": "expired", "socket": VIEW, "mode": "view"}
    assert not (process.socket_path.parent / VIEW).exists()
    writer.sendall(b"echo alive\r")
    process.recv_until(writer, b"alive\r\n# ")


def test_withdrawing_the_only_invitation_ends_the_console_for_that_reason(console_process):
    process = console_process(socket=WRITE)
    assert process.event() == {"event": "ready", "socket": WRITE, "replay": 0}
    drop(process, WRITE)
    assert process.event() == {"event": "expired", "socket": WRITE, "mode": "write"}
    assert process.event() == {"event": "ended", "reason": "login-ended", "params": {}}
    assert process.wait() == 0
    assert not process.socket_path.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"socket": "../escape", "reason": "login-ended"},
        {"socket": VIEW, "reason": "no-such-reason"},
        {"socket": VIEW},
        {"socket": "0" * 24 + "-0000000f", "reason": "login-ended"},  # nobody's socket
    ],
)
def test_a_malformed_or_unknown_drop_changes_nothing(console_process, fields):
    process = console_process()
    writer = connected(process)
    process.invite(VIEW)
    process.send_stdin(json.dumps({"event": "drop", **fields}).encode() + b"\n")
    viewer = process.connect(VIEW)
    assert process.event() == {"event": "connected", "socket": VIEW, "mode": "view"}
    writer.sendall(b"echo still\r")
    for client in (writer, viewer):
        process.recv_until(client, b"still\r\n# ")
