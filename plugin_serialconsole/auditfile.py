"""The audit log's file: one JSON object a line, appended, rotated by size, read back.

Each line is written with one ``write`` on a descriptor opened ``O_APPEND`` (0600, never
through a link), under a lock, so lines from many threads never interleave and a request
waits for at most one append (and, once per ``max_size`` bytes, a rename). When a line
would take the file past ``max_size``, ``audit.log`` becomes ``audit.log.1`` (``.1``
becomes ``.2``, ... up to ``KEEP`` old files; the oldest goes) and a new file begins.

``read`` opens the old files and the current one together (between two appends), then
reads them newest first without holding up writers, keeping at most ``limit`` matching
events in memory, and stops at the file where it has found ``limit`` (or whose events
are all older than ``since``): the older files are not read at all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

KEEP = 5  # old files kept beside the current one
MIN_SIZE = 4096
MAX_SIZE = 1024 * 1024 * 1024
MAX_LINE = 64 * 1024  # a longer line (never written by us) is skipped when read

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
        self, matches: Callable[[Event], bool], limit: int, since: str | None = None
    ) -> list[Event]:
        """The newest ``limit`` events that ``matches`` accepts, oldest first; a file
        whose last event is older than ``since`` (a ``time``) is not read. The files are
        opened together, between two appends, and read after, newest first: a rotation
        meanwhile renames what is being read, and no write waits for the reading."""
        found: list[list[Event]] = []  # each file's newest matching events, newest file first
        count = 0
        with contextlib.ExitStack() as stack:
            with self._lock:
                paths = [*self.old_files(), self.path]
                files = [stack.enter_context(f) for p in paths if (f := _open(p)) is not None]
            for file in reversed(files):
                if count >= limit:
                    break
                last = _last_time(file) if since is not None else None
                if last is not None and last < since:
                    break  # events are written in time order: this file's and older ones'
                kept = deque((e for e in _events(file) if matches(e)), maxlen=limit - count)
                found.append(list(kept))
                count += len(kept)
        return [event for events in reversed(found) for event in events]


def _open(path: Path) -> BinaryIO | None:
    try:
        return open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")
    except FileNotFoundError:
        return None
    except OSError as error:
        log.error("audit log %s: cannot read: %s", path, error)
        return None


def _last_time(file: BinaryIO) -> str | None:
    """The time of the file's last event, None when that cannot be told (no event within
    its last ``MAX_LINE`` bytes can be read: the file must be read); the file is left at
    its start."""
    size = os.fstat(file.fileno()).st_size
    file.seek(max(0, size - MAX_LINE))
    lines = file.read().split(b"\n")
    file.seek(0)
    for line in reversed(lines):
        try:
            time = json.loads(line).get("time")
        except (ValueError, AttributeError):
            continue
        if isinstance(time, str):
            return time
    return None


def _events(file: BinaryIO) -> Iterator[Event]:
    for line in _lines(file):
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a full disk
        if isinstance(event, dict):
            yield event


def _lines(file: BinaryIO) -> Iterator[bytes]:
    """The file's lines, each read at most ``MAX_LINE`` bytes at a time: a longer one
    (never one of ours) is skipped, so memory stays bounded whatever the file holds."""
    while line := file.readline(MAX_LINE):
        if line.endswith(b"\n") or len(line) < MAX_LINE:
            yield line
            continue
        while (rest := file.readline(MAX_LINE)) and not rest.endswith(b"\n"):
            pass
