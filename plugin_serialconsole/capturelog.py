"""The capture log of one guest console device: its files, their index, reading them.

A console process that captures a guest appends what the guest prints to
``<logs dir>/<console id>.log`` and, beside it, a time index ``<console id>.idx``: one
line ``<offset> <unix time>`` each time a stretch of output starts (output at least
``STRETCH`` seconds after the last stretch's start), so the log can be cut by time; a line
``<offset> <unix time> end <why>`` when the capture ends. When the log would grow past
its limit, both files move to ``.log.1`` / ``.idx.1`` (one older generation, replacing
the one before) and new ones start. File names come from the console id (a hash of the
guest UUID and device alias), never from anything a guest or client chose.

Files are opened relative to the private logs directory's descriptor, never through a
symbolic link, and only if they are regular files of this user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime

from plugin_serialconsole import i18n

LOG = ".log"
INDEX = ".idx"
OLDER = ".1"
GENERATIONS = (OLDER, "")  # oldest first
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


def _read(directory_fd: int, name: str) -> bytes:
    try:
        fd = open_file(directory_fd, name, os.O_RDONLY)
    except FileNotFoundError:
        return b""
    with os.fdopen(fd, "rb") as file:
        return file.read()


def parse_index(data: bytes) -> list[Mark]:
    marks = []
    for line in data.splitlines():
        if match := _INDEX_LINE.fullmatch(line):
            ended = match.group(3).decode(errors="replace") if match.group(3) is not None else None
            marks.append(Mark(int(match.group(1)), float(match.group(2)), ended))
    return marks


def last_mark(directory_fd: int, console: str) -> Mark | None:
    """The newest index line of the log of ``console``, if it has one."""
    for generation in reversed(GENERATIONS):
        if marks := parse_index(_read(directory_fd, file_name(console, INDEX, generation))):
            return marks[-1]
    return None


def last_written(directory_fd: int, console: str) -> float | None:
    """When the log of ``console`` was last written (unix time), or None if it has none."""
    with contextlib.suppress(FileNotFoundError):
        status = os.stat(file_name(console, LOG), dir_fd=directory_fd, follow_symlinks=False)
        if stat.S_ISREG(status.st_mode):
            return status.st_mtime
    return None


def read_log(
    directory_fd: int, console: str, since: float | None = None, until: float | None = None
) -> bytes:
    """The log of ``console``, both generations, cut to the stretches that started from
    ``since`` until ``until`` (unix times; either may be None)."""
    out = bytearray()
    for generation in GENERATIONS:
        data = _read(directory_fd, file_name(console, LOG, generation))
        if since is None and until is None:
            out += data
            continue
        marks = parse_index(_read(directory_fd, file_name(console, INDEX, generation)))
        ends = [mark.offset for mark in marks[1:]] + [len(data)] if marks else []
        for here, end in zip(marks, ends, strict=True):
            if since is not None and here.time < since or until is not None and here.time > until:
                continue
            out += data[here.offset : end]
    return bytes(out)
