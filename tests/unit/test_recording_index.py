"""The index of a console's sessions (``recording_index``) read while it rotates."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plugin_serialconsole import capturelog
from plugin_serialconsole.model import recording_index
from plugin_serialconsole.model.recording_index import LIMIT, SUFFIX, RecordingIndex

CONSOLE = "ab" * 12
CURRENT = f"{CONSOLE}{SUFFIX}"
ROTATED = f"{CONSOLE}{SUFFIX}.1"


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    directory.mkdir(mode=0o700)
    return directory


def fill_until_full(index: RecordingIndex, logs: Path, prefix: str) -> list[str]:
    """Sessions opened and ended until the current file has no room for a line of more
    than 200 bytes."""
    sessions = []
    number = 0
    while not sessions or (logs / CURRENT).stat().st_size + 200 <= LIMIT:
        session = f"{prefix}{number:08x}"
        index.opened(CONSOLE, session, "alice", "write", "serial0", 1000.0 + number)
        index.ended(CONSOLE, session, 1000.5 + number, "client-closed")
        sessions.append(session)
        number += 1
    return sessions


def read_sessions(index: RecordingIndex, logs: Path) -> list[str]:
    directory = os.open(logs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return [record.session for record in index.sessions(directory, CONSOLE)]
    finally:
        os.close(directory)


def test_sessions_rotated_between_the_readers_steps_are_still_listed(logs, monkeypatch):
    """The host's writer and the list's reader are two objects; the reader takes no lock.
    A rotation after the reader opened its first file and before it opened the second
    must not lose the sessions that were the current file a moment before."""
    writer, reader = RecordingIndex(logs), RecordingIndex(logs)
    fill_until_full(writer, logs, "a")
    fill_until_full(writer, logs, "b")  # rotated on the way; the current file now full
    in_current = [json.loads(line) for line in (logs / CURRENT).read_bytes().splitlines()]
    recent = [record["session"] for record in in_current if record["event"] == "open"]
    assert read_sessions(reader, logs)[-len(recent) :] == recent
    rotated_before = (logs / ROTATED).stat().st_ino
    real_open = capturelog.open_file
    opened_by_reader = []

    def open_file(directory: int, name: str, flags: int) -> int:
        try:
            return real_open(directory, name, flags)
        finally:
            if flags == os.O_RDONLY:
                opened_by_reader.append(name)
                if len(opened_by_reader) == 1:  # between the reader's first and second file
                    writer.opened(CONSOLE, "c0000000", "c" * 300, "write", "serial0", 3000.0)

    monkeypatch.setattr(recording_index.capturelog, "open_file", open_file)
    listed = read_sessions(reader, logs)
    monkeypatch.undo()
    assert len(opened_by_reader) == 2 and (logs / ROTATED).stat().st_ino != rotated_before
    assert set(recent) <= set(listed), "the sessions just rotated are missing"
    assert len(listed) == len(set(listed)), "a session listed twice"
    assert listed == sorted(listed), "oldest first"
