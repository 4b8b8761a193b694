"""Reattach with no lost output, the grace period, viewers and transcripts (issue 8)
against a real guest: the same checks as ``integration/test_reattach`` and
``integration/test_viewers``, through libvirt and QEMU."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.helpers import (
    Host,
    assert_final_line,
    assert_pid_gone,
    assert_unbroken_run,
    console_processes,
    idle_between_tests,
    rss_kib,
    seq_numbers,
    shared_host,
    wait_for,
    watch_rss,
)

from .consoles import SEQ_TIMEOUT, SHELL_TIMEOUT, answer_42, open_console, shell
from .daemons import URI
from .guests import prompt

SEQ_LAST = 20_000  # about 130 KB of output: less than the 256 KiB ring
GRACE = 2
SMALL_RING = 16 * 1024  # the guest's serial port fills it many times in seconds


@pytest.fixture(scope="module")
def small_module_host(libvirt_daemons) -> Iterator[Host]:
    options = ("--reattach-grace", str(GRACE), "--ring-size", str(SMALL_RING))
    yield from shared_host(*options, source=("--uri", URI))


@pytest.fixture
def small_host(small_module_host: Host, connect) -> Iterator[Host]:
    """A host whose consoles wait GRACE seconds for a writer and keep SMALL_RING bytes."""
    yield from idle_between_tests(small_module_host)


def ctrl_c(console) -> None:
    """Stop what runs in the shell and wait for the prompt (after any output in between)."""
    console.send(b"\x03")
    console.read_until(prompt(0), SEQ_TIMEOUT)


def test_abrupt_drop_mid_seq_then_reattach_loses_nothing(host, connect, module_guest):
    first = open_console(host, connect, module_guest)
    shell(first)
    pid = host.wait_session_state("connected", module_guest.name)["pid"]
    command = f"seq {SEQ_LAST}\r\n".encode()
    first.send(command[:-1])
    seen = first.read_until(b"\r\n3000\r\n", SEQ_TIMEOUT) + bytes(first.buffer)
    first.drop()  # mid-seq: the guest prints on into the ring
    last_seen = seq_numbers(seen.split(command, 1)[1])[-1]
    assert last_seen < SEQ_LAST
    assert host.wait_session_state("detached", module_guest.name)["pid"] == pid

    started = time.monotonic()
    again = host.open(module_guest.name)
    assert (again["reattached"], again["mode"]) == (True, "write")
    second = connect(again["ws_url"])
    second.first_byte()
    print(f"\nreal guest reattach: POST -> first byte {1000 * (time.monotonic() - started):.1f} ms")
    received = second.read_until(f"\r\n{SEQ_LAST}\r\n".encode() + prompt(0), SEQ_TIMEOUT)
    assert_unbroken_run(seq_numbers(received.split(command, 1)[1]), last_seen + 1, SEQ_LAST)
    answer_42(second)
    assert host.wait_session_state("connected", module_guest.name)["pid"] == pid


def test_nobody_back_within_the_grace_period_ends_the_process(small_host, connect, module_guest):
    host = small_host
    console = open_console(host, connect, module_guest)
    shell(console)
    pid = host.wait_session_state("connected", module_guest.name)["pid"]
    console.drop()
    host.wait_session_state("detached", module_guest.name)
    wait_for(lambda: host.sessions() == [], GRACE + 5.0, "the grace period to end it")
    host.assert_idle()
    assert_pid_gone(pid)
    host.wait_log(f"Nobody reattached within {GRACE} seconds; console closed.")
    # the libvirt console was released: a new session gets it
    fresh = host.open(module_guest.name)
    assert fresh["reattached"] is False
    shell(connect(fresh["ws_url"]))


def test_a_viewer_sees_the_writers_echo_and_its_input_never_reaches_the_guest(
    host, connect, module_guest
):
    writer = open_console(host, connect, module_guest)
    shell(writer)
    viewer = open_console(host, connect, module_guest, mode="view")
    viewer.read_until(prompt(0), SHELL_TIMEOUT)
    typist = open_console(host, connect, module_guest, mode="view")
    typist.read_until(prompt(0), SHELL_TIMEOUT)
    typist.send("echo leaked-by-viewer\r")
    typist.send(b"\x11")  # its Ctrl+Q ends it once the process has read all it typed
    assert_final_line(typist.read_until_close(SHELL_TIMEOUT), "SCONS0102L")
    writer.send("echo $((6*7))\r")
    for console in (writer, viewer):
        shown = console.read_until(b"\r\n42\r\n" + prompt(0), SHELL_TIMEOUT)
        assert b"leaked" not in shown
    writer.send("\r")  # a line the viewer typed into would show now
    for console in (writer, viewer):
        assert b"leaked" not in console.read_until(prompt(0), SHELL_TIMEOUT)
    host.wait_viewer_states(["connected"], module_guest.name)


def test_the_transcript_is_what_the_writer_saw(host, connect, module_guest):
    writer = open_console(host, connect, module_guest)
    writer.send("\r")
    seen = writer.read_until(prompt(0), SHELL_TIMEOUT)
    for command in ("echo $((6*7))", "uname -s", "echo done"):
        writer.send(f"{command}\r")
        seen += writer.read_until(b"\r\n" + prompt(0), SHELL_TIMEOUT)
    response = host.transcript(module_guest.name)
    assert response.status_code == 200
    transcript = response.content
    assert transcript.startswith(seen)
    rest = transcript[len(seen) :]  # e.g. the shell's cursor position query after its prompt
    if rest:
        seen += writer.read_until(rest, SHELL_TIMEOUT)
    assert transcript == seen
    filename = response.headers["Content-Disposition"]
    assert filename.startswith(f'attachment; filename="{module_guest.name}-serial0-20')


def test_memory_stays_bounded_by_the_ring_under_a_flood(small_host, connect, module_guest):
    host = small_host
    writer = open_console(host, connect, module_guest)
    shell(writer)
    (process,) = console_processes(host)
    before = rss_kib(process)
    stalled = open_console(host, connect, module_guest, mode="view")  # never reads
    writer.send("seq 100000000\r")
    writer.read_until(b"\r\n1000\r\n", SEQ_TIMEOUT)
    writer.drop()  # nobody reads now: the guest prints as fast as it can
    host.wait_session_state("detached", module_guest.name)
    started, first = time.monotonic(), seq_numbers(host.transcript(module_guest.name).content)[-1]
    transcript = b""

    def flooded() -> bool:  # the guest's output filled the ring five times over
        nonlocal transcript
        transcript = host.transcript(module_guest.name).content
        return (seq_numbers(transcript)[-1] - first) * 8 > 5 * SMALL_RING

    what = "the guest to flood the ring five times"
    peak = watch_rss([process], flooded, SEQ_TIMEOUT, what, check_every=0.5)[process]
    assert len(transcript) == SMALL_RING
    newest = seq_numbers(transcript)[1:]  # the ring starts inside a line
    rate = (newest[-1] - first) * 8 / (time.monotonic() - started) / 1024
    growth = peak - before
    print(f"\nreal guest flood, nobody reading: ~{rate:.0f} KB/s, console RSS +{growth} KiB")
    assert_unbroken_run(newest, newest[0], newest[-1])
    assert growth < 3 * SMALL_RING // 1024 + 2048, f"RSS grew by {growth} KiB"
    again = connect(host.open(module_guest.name)["ws_url"])  # reattach and stop the flood
    ctrl_c(again)
    answer_42(again)
    stalled.read_until(b"\r\n42\r\n", SEQ_TIMEOUT)  # it held nothing back, and still works
