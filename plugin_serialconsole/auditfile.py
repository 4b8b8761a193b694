"""The audit log's file: one JSON object a line, appended, rotated by size, read back.

Each line is written with one ``write`` on a descriptor opened ``O_APPEND`` (0600, never
through a link), under a lock, so lines from many threads never interleave and a request
waits for at most one append (and, once per ``max_size`` bytes, a rename). When a line
would take the file past ``max_size``, ``audit.log`` becomes ``audit.log.1`` (``.1``
becomes ``.2``, ... up to ``KEEP`` old files; the oldest goes) and a new file begins.

``read`` opens the old files and the current one together (between two appends), then
reads them backwards, newest line first, a chunk at a time (``backlines``), without
holding up writers, and stops once it has found ``limit`` matching events or reached one
older than ``since``: a query costs what it answers, and holds that answer and one chunk.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from plugin_serialconsole.backlines import lines_backward

log = logging.getLogger(__name__)

KEEP = 5  # old files kept beside the current one
MIN_SIZE = 4096
MAX_SIZE = 1024 * 1024 * 1024
MAX_LINE = 64 * 1024  # a line this long (never one of ours) is skipped when read

Event = dict[str, Any]


def encode(event: Event) -> bytes:
    """One line of JSON: every character outside ASCII and every control character
    escaped, so text a guest or client chose is data, never a line break or a terminal
    sequence for whoever reads the file."""
    return json.dumps(event, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


class AuditFile:
    """The audit log at ``path``, rotated past ``max_size`` bytes."""

    def __init__(self, path: Path, max_size: int) -> None:
        self.path = path
        self.max_size = max_size
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0

    def old_files(self) -> list[Path]:
        """The rotated files, oldest first."""
        return [self.path.with_name(f"{self.path.name}.{n}") for n in range(KEEP, 0, -1)]

    def append(self, event: Event) -> None:
        line = encode(event)
        with self._lock:
            try:
                if self._fd is None:
                    self._open()
                if self._size and self._size + len(line) > self.max_size:
                    self._rotate()
                os.write(self._fd, line)
                self._size += len(line)
            except OSError as error:
                # The request goes on; what could not be audited is said in the log.
                log.error("audit log %s: cannot write: %s", self.path, error)
                self._close()

    def open(self) -> AuditFile:
        """Open (create) the file now, so a file that cannot be written is known at start."""
        with self._lock:
            if self._fd is None:
                self._open()
        return self

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o600)
        os.fchmod(self._fd, 0o600)  # an older file made with looser rights
        self._size = os.fstat(self._fd).st_size

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _rotate(self) -> None:
        self._close()
        names = [self.path, *reversed(self.old_files())]  # current, .1, .2, ...
        for newer, older in reversed(list(zip(names, names[1:], strict=False))):
            if newer.exists():
                os.replace(newer, older)
        self._open()

    def read(
        self,
        matches: Callable[[Event], bool],
        limit: int,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Event]:
        """The newest ``limit`` events that ``matches`` accepts, oldest first, none older
        than ``since`` (a ``time``). The files are opened together, between two appends
        (where each ends then is noted), and read after, newest line first: a rotation
        meanwhile renames what is being read, and no write waits for the reading. Events
        are written in time order, so the reading stops at the end of the file that holds
        the first one older than ``since``, or once ``limit`` are found. A file whose
        first event is newer than ``until`` is not read (``matches`` judges the others'
        events)."""
        found: list[Event] = []
        with contextlib.ExitStack() as stack:
            files = []  # (path, descriptor, end), newest first
            with self._lock:
                for path in (self.path, *reversed(self.old_files())):
                    if (fd := _open(path)) is not None:
                        stack.callback(os.close, fd)
                        files.append((path, fd, os.fstat(fd).st_size))
            if until is not None:
                files = [file for file in files if not _starts_after(*file, until)]
            for file in files if limit > 0 else ():
                older = self._read_file(file, matches, limit, since, found)
                if older or len(found) == limit:
                    break
        found.reverse()
        return found

    @staticmethod
    def _read_file(
        file: tuple[Path, int, int],
        matches: Callable[[Event], bool],
        limit: int,
        since: str | None,
        found: list[Event],
    ) -> bool:
        """Add ``file``'s matching events to ``found``, newest first, up to ``limit``;
        whether one older than ``since`` was met. That file is still read to its start,
        as a clock stepped back (NTP) puts older times after newer ones within it."""
        older = False
        for event in _events_backward(*file):
            time = event.get("time")
            if since is not None and isinstance(time, str) and time < since:
                older = True
                continue
            if matches(event):
                found.append(event)
                if len(found) == limit:
                    break
        return older


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        log.error("audit log %s: cannot read: %s", path, error)
        return None


def _starts_after(path: Path, fd: int, end: int, until: str) -> bool:
    """Whether the file's first event is newer than ``until`` (False when its first line
    is no event)."""
    first = os.pread(fd, min(end, MAX_LINE), 0).split(b"\n", 1)[0]
    try:
        time = json.loads(first).get("time")
    except (ValueError, AttributeError):
        return False
    return isinstance(time, str) and time > until


def _events_backward(path: Path, fd: int, end: int) -> Iterator[Event]:
    """The events of the file's first ``end`` bytes, the last first; a line that is not
    one (cut short while written, or by a full disk) is skipped."""
    for line in lines_backward(fd, end, MAX_LINE):
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if isinstance(event, dict):
            yield event
        else:
            log.debug("audit log %s: a line that is no event skipped: %.80r", path, line)
