"""The input record of a captured console: what its writers typed, with time and session.

With ``record_input = yes`` a console process appends, beside its capture log
(``capturelog``), one JSON line per piece of input it forwarded from a writer to the
guest: ``{"t": <unix time>, "s": "<session id>", "d": "<the bytes>"}``. The bytes are kept
as they were: decoded as UTF-8 with ``surrogateescape``, so bytes that are not UTF-8 come
back exactly (JSON writes them as ``\\udcXX`` escapes). Typed passwords are in there too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from plugin_serialconsole import capturelog

_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND
READ_CHUNK = 64 * 1024
MAX_LINE = 1024 * 1024  # a line longer than this is not one this module wrote


@dataclass(frozen=True)
class InputEvent:
    """``data`` a writer of session ``session`` typed at ``time``."""

    time: float
    session: str
    data: bytes


def encode(event: InputEvent) -> bytes:
    text = event.data.decode("utf-8", "surrogateescape")
    record = {"t": round(event.time, 3), "s": event.session, "d": text}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def parse(line: bytes) -> InputEvent | None:
    """The event on ``line``, or None for a line that is not one."""
    try:
        record = json.loads(line)
        time, session, text = record["t"], record["s"], record["d"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(time, int | float) or not isinstance(session, str):
        return None
    if not isinstance(text, str):
        return None
    try:
        return InputEvent(float(time), session, text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return None


def _lines(fd: int) -> Iterator[bytes]:
    """The lines of the file ``fd`` from its start, read a chunk at a time."""
    offset, pending = 0, b""
    while chunk := os.pread(fd, READ_CHUNK, offset):
        offset += len(chunk)
        *lines, pending = (pending + chunk).split(b"\n")
        yield from lines
        if len(pending) > MAX_LINE:
            pending = b""
    if pending:
        yield pending


def read_events(
    fd: int, since: float | None, until: float | None, session: str | None = None
) -> Iterator[InputEvent]:
    """The events in the input record ``fd`` from ``since`` until ``until`` (either may be
    None), only those of ``session`` if given."""
    if fd < 0:
        return
    for line in _lines(fd):
        event = parse(line)
        if event is None or (session is not None and event.session != session):
            continue
        if since is not None and event.time < since:
            continue
        if until is not None and event.time > until:
            return
        yield event


@dataclass
class PendingInput:
    """Input waiting for the capture log's writer thread, at most ``ceiling`` bytes (its
    owner's lock is held around every call)."""

    ceiling: int
    events: list[InputEvent] = field(default_factory=list)
    size: int = 0

    def add(self, event: InputEvent) -> None:
        """Queue ``event``; beyond the ceiling it is not recorded."""
        if self.size + len(event.data) <= self.ceiling:
            self.events.append(event)
            self.size += len(event.data)

    def take(self) -> list[InputEvent]:
        events, self.events, self.size = self.events, [], 0
        return events


@dataclass
class InputFile:
    """The input record a capture appends to (``fd`` -1 while not open)."""

    fd: int = -1
    size: int = 0

    def open(self, directory_fd: int, name: str) -> None:
        self.fd = capturelog.open_file(directory_fd, name, _APPEND)
        self.size = os.fstat(self.fd).st_size

    def append(self, event: InputEvent) -> None:
        line = encode(event)
        written = 0
        while written < len(line):
            written += os.write(self.fd, line[written:])
        self.size += written

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
