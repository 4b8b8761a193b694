"""Recordings (issue 18) at the capture log: cuts where sessions open and end, the input
record beside the log, and the asciicast lines the log reads back as."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from plugin_serialconsole import asciicast, inputlog
from plugin_serialconsole.asciicast import Header
from plugin_serialconsole.console.logwriter import MAX_PENDING, LogWriter
from plugin_serialconsole.ids import console_id
from plugin_serialconsole.model.capture_logs import CaptureLogs
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.model.recording_index import RecordingIndex
from plugin_serialconsole.model.recordings import Recordings
from plugin_serialconsole.timedlog import INPUT, OUTPUT, Event, TimedLog

CONSOLE = "0123456789abcdef01234567"
LIMIT = 8192
AFTER_CUT = 0.0005


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "state" / "logs"


def timed(logs: Path) -> TimedLog:
    fd = os.open(logs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return TimedLog(fd, CONSOLE)
    finally:
        os.close(fd)


def events(logs: Path, since: float, until: float | None, session: str | None = None):
    with timed(logs) as log:
        return list(log.events(since + AFTER_CUT, until + AFTER_CUT if until else None, session))


def output(found: list[Event]) -> bytes:
    return b"".join(event.data for event in found if event.kind == OUTPUT)


def test_a_session_cut_within_one_millisecond_holds_exactly_its_output(logs):
    writer = LogWriter(logs, CONSOLE, LIMIT)
    writer.open(booted=False)
    writer.record(b"before the session\r\n")
    opened = writer.cut()
    writer.record(b"during the session\r\n")  # all in the same millisecond, as under load
    ended = writer.cut()
    writer.record(b"after it\r\n")
    writer.close("done")
    assert opened < ended
    assert output(events(logs, opened, ended)) == b"during the session\r\n"
    assert output(events(logs, opened, None)).startswith(b"during the session\r\nafter it\r\n")


def test_a_session_with_no_output_has_an_empty_recording(logs):
    writer = LogWriter(logs, CONSOLE, LIMIT)
    writer.open(booted=False)
    writer.record(b"before\r\n")
    opened, ended = writer.cut(), writer.cut()
    writer.record(b"after\r\n")
    writer.close("done")
    assert output(events(logs, opened, ended)) == b""


def test_input_is_recorded_only_when_asked_with_its_session_as_typed(logs):
    writer = LogWriter(logs, CONSOLE, LIMIT, keeps_input=True)
    writer.open(booted=False)
    opened = writer.cut()
    writer.record_input("aa11", b"root\r")
    writer.record_input("aa11", b"pa\xffss\xc3\r")  # not UTF-8: kept byte for byte
    writer.record_input("bb22", b"someone else\r")
    ended = writer.cut()
    writer.close("done")
    typed = [e.data for e in events(logs, opened, ended, "aa11") if e.kind == INPUT]
    assert typed == [b"root\r", b"pa\xffss\xc3\r"]

    other = logs.parent.parent / "other" / "logs"
    quiet = LogWriter(other, CONSOLE, LIMIT)  # record_input = no
    quiet.open(booted=False)
    quiet.record_input("aa11", b"secret\r")
    quiet.close("done")
    assert sorted(p.suffix for p in other.iterdir()) == [".idx", ".log"]


def test_the_input_record_is_bounded_and_rotates_with_the_log(logs):
    writer = LogWriter(logs, CONSOLE, LIMIT, keeps_input=True)
    writer.open(booted=False)
    for n in range(2000):  # ~60 KB of input lines, several times the limit
        writer.record_input("aa11", b"typed %05d\r" % n)
    writer.close("done")
    sizes = {p.name[len(CONSOLE) :]: p.stat().st_size for p in logs.iterdir()}
    assert set(sizes) == {".log", ".idx", ".in", ".log.1", ".idx.1", ".in.1"}
    assert sizes[".in"] <= LIMIT + 100 and sizes[".in.1"] <= LIMIT + 100
    with timed(logs) as log:
        typed = [e.data for e in log.events(None, None, "aa11") if e.kind == INPUT]
    assert typed[-1] == b"typed 01999\r" and len(typed) < 2000


def test_an_input_line_round_trips_any_bytes():
    event = inputlog.InputEvent(1.5, "aa11", bytes(range(256)))
    line = inputlog.encode(event)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    assert inputlog.parse(line) == event
    assert inputlog.parse(b'{"t": "x"}') is None and inputlog.parse(b"not json") is None


def cast(*pieces: tuple[float, str, bytes]) -> tuple[dict, list[list]]:
    lines = list(
        asciicast.cast_lines(Header(100.0, "t"), [Event(t, kind, data) for t, kind, data in pieces])
    )
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def test_a_guests_bytes_that_are_not_utf8_become_replacement_characters():
    header, found = cast((100.0, OUTPUT, b"ok \xff\xfe end\r\n"), (101.25, INPUT, b"\x80x"))
    assert header == {
        "version": 2,
        "width": 80,
        "height": 24,
        "timestamp": 100,
        "env": {"TERM": "xterm-256color"},
        "title": "t",
    }
    assert found == [[0.0, "o", "ok \ufffd\ufffd end\r\n"], [1.25, "i", "\ufffdx"]]


def test_a_character_split_between_two_reads_stays_whole():
    euro = "€".encode()
    _, found = cast((100.0, OUTPUT, b"a" + euro[:1]), (100.5, OUTPUT, euro[1:] + b"b"))
    assert "".join(text for _, _, text in found) == "a€b"
    assert "\ufffd" not in "".join(text for _, _, text in found)
    _, cut_short = cast((100.0, OUTPUT, b"a" + euro[:2]))  # the log ends inside it
    assert cut_short == [[0.0, "o", "a"], [0.0, "o", "\ufffd"]]


def test_a_session_whose_end_the_index_lacks_ends_with_its_capture(logs):
    guest = Guest("g", "3d1a9a4c-5e2b-4b7a-9f60-0c0de00000aa", "running",
                  (ConsoleDevice("serial0", "serial"),))  # fmt: skip
    key = console_id(guest.uuid, "serial0", guest.hypervisor)
    writer = LogWriter(logs, key, LIMIT)
    writer.open(booted=False)
    writer.record(b"before\r\n")
    opened = writer.cut()
    RecordingIndex(logs).opened(key, "aa11", "alice", "write", "serial0", opened)
    writer.record(b"during\r\n")
    writer.close("the host was killed")  # so the host never wrote the session's end
    recordings = Recordings(CaptureLogs(logs))
    (listed,) = recordings.list(guest)
    assert listed["end"] is not None and listed["reason"] == "the host was killed"
    assert (listed["operator"], listed["complete"]) == ("alice", True)
    _, lines = recordings.cast(guest, "aa11")
    _, *found = [json.loads(line) for line in lines]
    text = "".join(event[2] for event in found)
    assert text.startswith("during\r\n") and "capture ended at" in text and "before" not in text


def test_the_answer_to_typing_is_timed_when_it_came(logs):
    writer = LogWriter(logs, CONSOLE, LIMIT)  # record_input = no: still timed
    writer.open(booted=False)
    opened = writer.cut()
    writer.record(b"# ")
    writer.record_input("aa11", b"l")
    typed_at = time.time()
    wait_for_clock(typed_at + 0.05)  # within the second the prompt's stretch started
    writer.record(b"l")
    writer.close("done")
    found = [e for e in events(logs, opened, None) if e.kind == OUTPUT]
    assert found[0].data == b"# " and found[1].data.startswith(b"l\r\n-- serialconsole")
    assert found[1].time >= typed_at + 0.05 - 0.001 > found[0].time


def wait_for_clock(moment: float) -> None:
    while time.time() < moment:
        time.sleep(moment - time.time())


def test_a_large_log_exports_a_piece_at_a_time(logs):
    line = b"%07d\r\n"
    body = b"".join(line % n for n in range(600_000))  # 5.4 MB
    # A writer queues at most MAX_PENDING bytes ahead of its thread and only counts the
    # rest: the log is written as captures that each fit in that queue (close waits until
    # one is written), so all of the body is in it however the threads are scheduled.
    capture = MAX_PENDING // 2
    for first in range(0, len(body), capture):
        writer = LogWriter(logs, CONSOLE, 8 * 1024 * 1024)
        writer.open(booted=False)
        for start in range(first, min(first + capture, len(body)), 65536):
            writer.record(body[start : min(start + 65536, first + capture)])
        writer.close("done")
    tracemalloc.start()
    try:
        with timed(logs) as log:
            out = 0
            for text in asciicast.cast_lines(Header(0.0), log.events(None, None)):
                out += len(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out > len(body) and peak < 1024 * 1024  # never the whole log in memory
