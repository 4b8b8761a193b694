"""Recordings: a guest's recent console sessions and each one as an asciicast file.

A session's recording is the capture log's stretch from its open to its end (the
console process cut the log at both: ``LogWriter.cut``), with what its writer typed where
input is recorded. Output is never stored twice: the capture log is the output record,
so a recording lasts as long as the log holds its output; the list says when the log no
longer holds a session's start (``complete``: false).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from plugin_serialconsole import asciicast, i18n
from plugin_serialconsole.asciicast import Header
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.ids import console_id
from plugin_serialconsole.model.capture_logs import CaptureLogs
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.model.recording_index import RecordingIndex, SessionRecord
from plugin_serialconsole.timedlog import TimedLog

MAX_LISTED = 100  # sessions a list answers, newest first
# A cut is at a millisecond; output after it is marked at least one later: half of one
# apart from the cut separates what came before it from what came after.
AFTER_CUT = 0.0005
_SESSION_ID = re.compile(r"[0-9a-f]{1,32}")


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


class Recordings:
    """The recordings of captured consoles whose logs ``logs`` reads."""

    def __init__(self, logs: CaptureLogs) -> None:
        self.logs = logs
        self.index = RecordingIndex(logs.directory)

    def list(self, guest: Guest) -> list[dict[str, Any]]:
        """The guest's recent sessions (of every console device), newest first."""
        found = []
        with self.logs.directory_fd() as directory:
            if directory is None:
                return []
            for device in guest.consoles:
                key = console_id(guest.uuid, device.alias, guest.hypervisor)
                if sessions := self.index.sessions(directory, key):
                    found += _console_sessions(directory, key, sessions)
        found.sort(key=lambda doc: doc["start"], reverse=True)
        return found[:MAX_LISTED]

    def find(self, guest: Guest, session: str) -> tuple[str, SessionRecord]:
        """(console id, the session ``session`` of ``guest``); 404 when the index has none."""
        if _SESSION_ID.fullmatch(session):
            with self.logs.directory_fd() as directory:
                for device in guest.consoles if directory is not None else ():
                    key = console_id(guest.uuid, device.alias, guest.hypervisor)
                    for record in self.index.sessions(directory, key):
                        if record.session == session:
                            return key, record
        raise SerialConsoleError(i18n.RECORDING_NOT_FOUND, 404, guest=guest.name, session=session)

    def cast(self, guest: Guest, session: str) -> tuple[str, Iterator[bytes]]:
        """(a file name, the asciicast of session ``session`` of ``guest``, a line at a time)."""
        key, record = self.find(guest, session)
        log = self.logs.open_timed(key, guest.name, record.device)
        record = _ended(log, record)
        until = record.end + AFTER_CUT if record.end is not None else None
        events = log.events(record.start + AFTER_CUT, until, record.session)
        title = f"{guest.name} {record.device} {record.user} {_iso(record.start)}"
        stamp = datetime.fromtimestamp(record.start, UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{guest.name}-{record.device}-{stamp}-{record.session}"
        return name, _closing(log, asciicast.cast_lines(Header(record.start, title), events))


def log_cast(
    logs: CaptureLogs, guest: Guest, alias: str | None, since: float | None, until: float | None
) -> tuple[str, Iterator[bytes]]:
    """(device alias, the asciicast of the guest's capture log from ``since`` until
    ``until``, a line at a time): output only."""
    device = guest.device(alias)
    key = console_id(guest.uuid, device.alias, guest.hypervisor)
    log = logs.open_timed(key, guest.name, device.alias)
    start = since if since is not None else log.first_time()
    if start is None:
        start = 0.0
    title = f"{guest.name} {device.alias}"
    return device.alias, _closing(
        log, asciicast.cast_lines(Header(start, title), log.events(since, until))
    )


def _console_sessions(directory: int, key: str, sessions: list[SessionRecord]) -> list[dict]:
    """The JSON of the sessions of console ``key``: each with its end, and whether the log
    still holds its start (while none of it is written yet, nothing is gone)."""
    try:
        with TimedLog(directory, key) as log:
            oldest = log.first_time() if log.exists() else math.inf
            oldest = -math.inf if oldest is None else oldest
            return [_as_json(_ended(log, session), oldest) for session in sessions]
    except OSError:
        return [_as_json(session, math.inf) for session in sessions]


def _ended(log: TimedLog, record: SessionRecord) -> SessionRecord:
    """``record``, its end that the index lacks (the host stopped before it could write it)
    taken from the log: the capture's end after its start, if the log says so."""
    if record.end is not None:
        return record
    ended = log.capture_end_after(record.start)
    if ended is None:
        return record
    return replace(record, end=ended.time, reason=ended.ended or "")


def _closing(log: TimedLog, lines: Iterator[bytes]) -> Iterator[bytes]:
    """``lines``, then the log's files closed (also when the client stops reading)."""
    try:
        yield from lines
    finally:
        log.close()


def _as_json(record: SessionRecord, oldest: float) -> dict[str, Any]:
    duration = round(record.end - record.start, 3) if record.end is not None else None
    return {
        "session": record.session,
        "operator": record.user,
        "mode": record.mode,
        "device": record.device,
        "start": _iso(record.start),
        "end": _iso(record.end),
        "duration": duration,
        "complete": oldest <= record.start + AFTER_CUT,
        "reason": record.reason,
    }
