"""Read-only viewers and transcripts (issue 8), on the mock model."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from .helpers import (
    PROMPT,
    UNICODE_GUEST,
    assert_final_line,
    assert_unbroken_run,
    console_processes,
    rss_kib,
    seq_numbers,
    wait_for,
    watch_rss,
)

RING = 256 * 1024
MiB = 1024 * 1024


def writer_and_viewer(host, connect, guest: str = "mock-vm"):
    writer = connect(host.open(guest)["ws_url"])
    writer.banner()
    opened = host.open(guest, mode="view")
    assert (opened["mode"], opened["reattached"]) == ("view", True)
    viewer = connect(opened["ws_url"])
    viewer.banner()
    return writer, viewer


def test_viewer_sees_the_writers_echo_and_is_listed(host, connect):
    writer = connect(host.open()["ws_url"])
    writer.banner()
    opened = host.open(mode="view")
    assert "&mode=view#ws=" in opened["page"]
    (session,) = host.get("vms/mock-vm/serial").json()
    assert [(v["user"], v["state"]) for v in session["viewers"]] == [(session["user"], "waiting")]
    viewer = connect(opened["ws_url"])
    assert viewer.banner().startswith(b"\r\nSimulated serial console of guest mock-vm.")
    # The host learns of each client from the console process, the viewer after the writer.
    session = host.wait_viewer_states(["connected"])
    assert session["state"] == "connected"
    writer.send("echo shared\r")
    assert writer.read_until(PROMPT) == b"echo shared\r\nshared\r\n# "
    assert viewer.read_until(PROMPT) == b"echo shared\r\nshared\r\n# "
    viewer.close()
    assert host.wait_viewer_states([])["state"] == "connected"


def test_viewer_input_never_reaches_the_guest(host, connect):
    writer, viewer = writer_and_viewer(host, connect)
    typist = connect(host.open(mode="view")["ws_url"])
    typist.banner()
    typist.send("echo leaked\r")
    typist.send(b"\x03poweroff\r\x04")
    typist.send(b"\x11")  # its Ctrl+Q ends it once the process has read all it typed
    assert_final_line(typist.read_until_close(), "SCONS0102L")
    writer.send("echo mine\r")
    assert writer.read_until(PROMPT) == b"echo mine\r\nmine\r\n# "
    assert viewer.read_until(PROMPT) == b"echo mine\r\nmine\r\n# "
    assert host.get("vms/mock-vm").json()["state"] == "running"


def test_viewers_do_not_make_the_console_in_use(host, connect):
    opened = host.open(mode="view")
    assert (opened["reattached"], opened["replay_bytes"]) == (False, 0)
    viewer = connect(opened["ws_url"])
    viewer.banner()
    (session,) = host.sessions()
    assert session["state"] == "detached"
    writing = host.open()
    assert writing["reattached"] is True
    writer = connect(writing["ws_url"])
    writer.banner()
    assert host.wait_session_state("connected")["pid"] == session["pid"]
    writer.send("echo joined\r")
    assert viewer.read_until(PROMPT) == b"echo joined\r\njoined\r\n# "
    refused = host.post("vms/mock-vm/serial")
    assert (refused.status_code, refused.json()["code"]) == (409, "SCONS0003E")


def test_every_viewer_gets_the_final_line(host, connect):
    writer, viewer = writer_and_viewer(host, connect, "mock-dual")
    other = connect(host.open("mock-dual", mode="view")["ws_url"])
    other.banner()
    assert host.close("mock-dual").status_code == 204
    for console in (writer, viewer, other):
        assert_final_line(console.read_until_close(), "SCONS0106L")


def test_ctrl_q_of_the_writer_ends_the_viewers_too(host, connect):
    writer, viewer = writer_and_viewer(host, connect)
    writer.send(b"\x11")
    assert_final_line(writer.read_until_close(), "SCONS0102L")
    assert_final_line(viewer.read_until_close(), "SCONS0102L")
    host.assert_idle()


def test_ctrl_q_of_a_viewer_ends_only_that_viewer(host, connect):
    writer, viewer = writer_and_viewer(host, connect)
    viewer.send(b"\x11")
    assert_final_line(viewer.read_until_close(), "SCONS0102L")
    writer.send("echo on\r")
    assert writer.read_until(PROMPT) == b"echo on\r\non\r\n# "
    host.wait_viewer_states([])


def test_viewer_limit_answers_503(start_host, connect):
    host = start_host("--max-viewers", "2")
    for _ in range(2):
        host.open(mode="view")
    refused = host.post("vms/mock-vm/serial", json={"mode": "view"})
    assert (refused.status_code, refused.json()["code"]) == (503, "SCONS0023E")
    assert "(2)" in refused.json()["reason"]
    connect(host.open()["ws_url"]).banner()  # the writer's place is not a viewer's
    host.open("mock-dual", mode="view")  # the limit is per console


@pytest.mark.parametrize(
    "body",
    [{"mode": "admin"}, {"mode": ""}, {"mode": 1}, {"mode": None}, {"mode": "view", "force": True}],
)
def test_bad_mode_is_refused(host, body):
    response = host.post("vms/mock-vm/serial", json=body)
    assert (response.status_code, response.json()["code"]) == (400, "SCONS0007E"), response.text
    assert host.sessions() == []


# --------------------------------------------------------------------------- transcript


def test_transcript_is_what_the_writer_saw(host, connect):
    writer = connect(host.open(UNICODE_GUEST)["ws_url"])
    seen = writer.banner()
    for command in ("echo ünï 虚拟", "help", "nope"):
        writer.send(f"{command}\r".encode())
        seen += writer.read_until(PROMPT)
    response = host.transcript(UNICODE_GUEST)
    assert response.status_code == 200
    assert response.content == seen
    headers = response.headers
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert re.fullmatch(
        r'attachment; filename="mock-_n_c_d_-_-serial0-20\d{6}T\d{6}Z\.log"',
        headers["Content-Disposition"],
    )
    assert host.dir_entries()["consoles"] == []  # its socket is gone again


def test_transcript_keeps_the_newest_ring_full(host, connect):
    writer = connect(host.open("mock-dual", device="serial1")["ws_url"])
    writer.banner()
    writer.send("seq 100000\r")
    seen = writer.read_until(b"\r\n100000\r\n# ", timeout=20)
    transcript = host.transcript("mock-dual", device="serial1").content
    assert len(transcript) == RING
    assert seen.endswith(transcript)
    writer.drop()
    host.wait_session_state("detached", "mock-dual", "serial1")
    assert host.transcript("mock-dual", device="serial1").content == transcript


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 404, "SCONS0008E"),
        ({"device": "serial1"}, 400, "SCONS0004E"),
        ({"device": "../x"}, 400, "SCONS0007E"),
        ({"other": "1"}, 400, "SCONS0007E"),
    ],
)
def test_transcript_errors(host, params, status, code):
    response = host.transcript("mock-vm", **params)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


def test_transcript_of_an_unknown_guest(host):
    response = host.transcript("no-such-guest")
    assert (response.status_code, response.json()["code"]) == (404, "SCONS0001E")


# --------------------------------------------------------------------------- memory


@pytest.mark.parametrize("ring", [RING, 4 * MiB], ids=["256KiB", "4MiB"])
def test_memory_stays_bounded_by_the_ring_under_a_flood(start_host, connect, ring):
    """Nobody reads: the writer dropped and a viewer stalls. The guest floods on, the
    ring keeps the newest output, and the process's memory does not grow with it."""
    host = start_host("--ring-size", str(ring))
    writer = connect(host.open()["ws_url"])
    writer.banner()
    (process,) = console_processes(host)
    before = rss_kib(process)
    stalled = connect(host.open(mode="view")["ws_url"])
    writer.send("seq 900000000\r")  # about 9 GB
    writer.read_until(b"\r\n1000\r\n")
    writer.drop()
    host.wait_session_state("detached")
    wait_for(lambda: len(host.transcript().content) == ring, 10.0, "a full ring")
    first = seq_numbers(host.transcript().content)[-1]
    # The ring's buffer (twice its size, for sliding), a transcript's copy of the ring, the
    # stalled viewer's socket buffer, chunks in flight and the allocator's slack.
    bound_kib = 3 * ring // 1024 + 2048
    # Memory is watched while the guest prints many times that bound (9-byte lines), so
    # output that stayed in memory would show, however fast the machine is today.
    lines = 16 * bound_kib * 1024 // 9
    newest: list[int] = []

    def ran_on() -> bool:
        newest[:] = seq_numbers(host.transcript().content)[1:]  # the ring starts in a line
        return newest[-1] > first + lines

    started = time.monotonic()
    what = f"the guest to print {lines} more lines"
    peak = watch_rss([process], ran_on, 120.0, what, check_every=0.5)[process]
    rate = (newest[-1] - first) * 9 / (time.monotonic() - started) / MiB
    growth = peak - before
    print(f"\nflood, ring {ring >> 10} KiB: ~{rate:.0f} MB/s, console RSS +{growth} KiB")
    assert growth < bound_kib, f"RSS grew by {growth} KiB"
    assert_unbroken_run(newest, newest[0], newest[-1])

    again = connect(host.open()["ws_url"])  # reattach and stop the flood
    again.send(b"\x03")
    again.read_until(b"^C\r\n# ", timeout=20)
    stalled_output = stalled.read_until(b"^C\r\n# ", timeout=20)
    assert b"bytes of output skipped. (SCONS0113L)" in stalled_output


def test_a_killed_console_process_leaves_no_invitation_behind(host, connect):
    writer = connect(host.open()["ws_url"])
    writer.banner()
    host.open(mode="view")  # its socket and token wait for a viewer
    host.transcript()
    assert {k: len(v) for k, v in host.dir_entries().items()} == {"consoles": 1, "tokens": 1}
    os.kill(host.wait_session_state("connected")["pid"], signal.SIGKILL)
    writer.read_until_close()
    host.assert_idle()
