"""The capture log of one guest console device: its files, their index, reading them.

A console process that captures a guest appends what the guest prints to
``<logs dir>/<console id>.log`` and, beside it, a time index ``<console id>.idx``: one
line ``<offset> <unix time>`` each time a stretch of output starts (output at least
``STRETCH`` seconds after the last stretch's start), so the log can be cut by time; a line
``<offset> <unix time> end <why>`` when the capture ends; a stretch also starts where a
console session opens or ends (``LogWriter.cut``), so a session's recording is cut out by
time exactly. With ``record_input``, what writers typed goes to ``<console id>.in``
(``inputlog``). When the log (or the input record) would grow past its limit, the files
move to ``.log.1`` / ``.idx.1`` / ``.in.1`` (one older generation, replacing the one
before) and new ones start. File names come from the console id (a hash of the
guest UUID and device alias), never from anything a guest or client chose.

Files are opened relative to the private logs directory's descriptor, never through a
symbolic link, and only if they are regular files of this user.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from plugin_serialconsole import i18n

LOG = ".log"
INDEX = ".idx"
INPUT = ".in"  # what writers typed, when recorded (``inputlog``)
OLDER = ".1"
GENERATIONS = (OLDER, "")  # oldest first
OPEN_ATTEMPTS = 5  # openings of a log rotating meanwhile before giving up
STRETCH = 1.0  # seconds: output closer than this to a stretch's start belongs to it
FILE_MODE = 0o600
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
_CONSOLE_ID = re.compile(r"[0-9a-f]{24}")
_INDEX_LINE = re.compile(rb"(\d+) (\d+(?:\.\d+)?)(?: end (.*))?")


class UnsafeLogFile(OSError):
    """A log file that is a link, not a regular file, or not this user's."""


@dataclass(frozen=True)
class Mark:
    """One index line: where a stretch starts, when, and (for an end) why it ended."""

    offset: int
    time: float
    ended: str | None = None


def utc(time: float) -> str:
    return datetime.fromtimestamp(time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def banner(code: str, **params: object) -> bytes:
    """A line the capture adds to the log itself (boot separators, gaps)."""
    text = i18n.translate(code, params)
    return f"\r\n-- serialconsole: {text} --\r\n".encode()


def file_name(console: str, suffix: str, generation: str = "") -> str:
    if not _CONSOLE_ID.fullmatch(console):
        raise ValueError("not a console id")
    return f"{console}{suffix}{generation}"


def open_file(directory_fd: int, name: str, flags: int) -> int:
    """A descriptor of ``name`` in the logs directory; refuses links and others' files."""
    try:
        fd = os.open(name, flags | _OPEN_FLAGS, FILE_MODE, dir_fd=directory_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeLogFile(errno.ELOOP, "a symbolic link, not followed", name) from None
        raise
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
        os.close(fd)
        raise UnsafeLogFile(errno.EPERM, "not a regular file of this user", name)
    return fd


def parse_index(data: bytes) -> list[Mark]:
    return [mark for line in data.splitlines() if (mark := _parse_mark(line)) is not None]


def _parse_mark(line: bytes) -> Mark | None:
    if match := _INDEX_LINE.fullmatch(line):
        ended = match.group(3).decode(errors="replace") if match.group(3) is not None else None
        return Mark(int(match.group(1)), float(match.group(2)), ended)
    return None


class Index:
    """An index file seen through ``mmap``: lines found by bisecting, never all parsed."""

    def __init__(self, fd: int) -> None:
        size = os.fstat(fd).st_size if fd >= 0 else 0
        self._data: mmap.mmap | bytes = mmap.mmap(fd, size, prot=mmap.PROT_READ) if size else b""

    def close(self) -> None:
        if isinstance(self._data, mmap.mmap):
            self._data.close()

    def _line(self, start: int) -> tuple[Mark | None, int]:
        """(the mark on the line starting at ``start``, where the next line starts)."""
        end = self._data.find(b"\n", start)
        end = len(self._data) if end < 0 else end
        return _parse_mark(self._data[start:end]), min(end + 1, len(self._data))

    def first(self, after: Callable[[Mark], bool]) -> Mark | None:
        """The first mark for which ``after`` holds (false before it, true from it on, as
        the index is in time order); None when there is none."""
        low = self._first_line(after)
        return self._line(low)[0] if low < len(self._data) else None

    def _first_line(self, after: Callable[[Mark], bool]) -> int:
        """Where the line of the first mark for which ``after`` holds starts."""
        low, high = 0, len(self._data)  # line starts; the mark sought starts in [low, high]
        while low < high:
            start = self._data.rfind(b"\n", low, (low + high) // 2) + 1 or low
            mark, following = self._line(start)
            if mark is not None and after(mark):
                high = start
            else:
                low = following
        return low

    def marks_from(self, after: Callable[[Mark], bool]) -> Iterator[Mark]:
        """The marks from the first for which ``after`` holds on, read one line at a time."""
        start = self._first_line(after)
        while start < len(self._data):
            mark, start = self._line(start)
            if mark is not None:
                yield mark

    def last(self) -> Mark | None:
        end = len(self._data)
        while end > 0:
            start = self._data.rfind(b"\n", 0, end - 1) + 1
            if (mark := self._line(start)[0]) is not None:
                return mark
            end = start
        return None


@dataclass
class Generation:
    """One generation's log, index and input record, opened together (-1: no such file)."""

    log_fd: int = -1
    index_fd: int = -1
    input_fd: int = -1

    def close(self) -> None:
        for fd in (self.log_fd, self.index_fd, self.input_fd):
            if fd >= 0:
                os.close(fd)


def _open_or_none(directory_fd: int, name: str) -> int:
    try:
        return open_file(directory_fd, name, os.O_RDONLY)
    except FileNotFoundError:
        return -1


def _still_named(directory_fd: int, name: str, fd: int) -> bool:
    """Whether ``name`` still is the file ``fd`` has open (or still missing, for -1)."""
    try:
        named = os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
    except FileNotFoundError:
        return fd < 0
    if fd < 0:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _fds(generation: Generation) -> tuple[int, int, int]:
    return generation.log_fd, generation.index_fd, generation.input_fd


def open_generations(directory_fd: int, console: str) -> list[Generation]:
    """Both generations' files, oldest first, opened as one consistent set: a rotation
    while they were being opened (a name now another file) has them opened again."""
    for _ in range(OPEN_ATTEMPTS):
        generations: list[Generation] = []
        try:
            names = [[file_name(console, s, g) for s in (LOG, INDEX, INPUT)] for g in GENERATIONS]
            for log_name, index_name, input_name in names:
                generation = Generation()
                generations.append(generation)
                generation.log_fd = _open_or_none(directory_fd, log_name)
                generation.index_fd = _open_or_none(directory_fd, index_name)
                generation.input_fd = _open_or_none(directory_fd, input_name)
            if all(
                _still_named(directory_fd, name, fd)
                for generation_names, g in zip(names, generations, strict=True)
                for name, fd in zip(generation_names, _fds(g), strict=True)
            ):
                return generations
        except BaseException:
            for generation in generations:
                generation.close()
            raise
        for generation in generations:
            generation.close()
    raise OSError(errno.EAGAIN, "the log kept rotating while it was read")


def last_mark(directory_fd: int, console: str) -> Mark | None:
    """The newest index line of the log of ``console``, if it has one."""
    generations = open_generations(directory_fd, console)
    try:
        for generation in reversed(generations):
            index = Index(generation.index_fd)
            try:
                if (mark := index.last()) is not None:
                    return mark
            finally:
                index.close()
        return None
    finally:
        for generation in generations:
            generation.close()


def last_written(directory_fd: int, console: str) -> float | None:
    """When the log of ``console`` was last written (unix time), or None if it has none."""
    with contextlib.suppress(FileNotFoundError):
        status = os.stat(file_name(console, LOG), dir_fd=directory_fd, follow_symlinks=False)
        if stat.S_ISREG(status.st_mode):
            return status.st_mtime
    return None


def _span(generation: Generation, since: float | None, until: float | None) -> tuple[int, int]:
    """Where in the generation's log the stretches that started from ``since`` until
    ``until`` lie (start, end); found by bisecting its index."""
    size = os.fstat(generation.log_fd).st_size
    if since is None and until is None:
        return 0, size
    index = Index(generation.index_fd)
    try:
        first = index.first(lambda mark: since is None or mark.time >= since)
        after = index.first(lambda mark: until is not None and mark.time > until)
    finally:
        index.close()
    start = min(first.offset, size) if first is not None else size
    end = min(after.offset, size) if after is not None else size
    return start, max(start, end)


def read_log(
    directory_fd: int,
    console: str,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
) -> bytes:
    """The log of ``console``, both generations, cut to the stretches that started from
    ``since`` until ``until`` (unix times; either may be None), and of that the last
    ``tail`` bytes (all if None). Only the bytes answered are read."""
    generations = open_generations(directory_fd, console)
    try:
        spans = [(g.log_fd, *_span(g, since, until)) for g in generations if g.log_fd >= 0]
        if tail is not None:
            spans = _last_bytes(spans, tail)
        out = bytearray()
        for fd, start, end in spans:
            out += os.pread(fd, end - start, start)
        return bytes(out)
    finally:
        for generation in generations:
            generation.close()


def _last_bytes(spans: list[tuple[int, int, int]], wanted: int) -> list[tuple[int, int, int]]:
    kept: list[tuple[int, int, int]] = []
    for fd, start, end in reversed(spans):
        start = max(start, end - wanted)
        wanted -= end - start
        kept.insert(0, (fd, start, end))
    return kept
