"""Appends a capture's output to its log on a thread of its own (format: ``capturelog``).

The guest pump only hands bytes over (``record``): it never waits for the disk. Should
the disk fall so far behind that ``MAX_PENDING`` bytes wait, newer output is not queued
but counted, and the log says how much is missing there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from plugin_serialconsole import capturelog, i18n
from plugin_serialconsole.capturelog import INDEX, LOG, OLDER, STRETCH, banner, file_name, utc
from plugin_serialconsole.rundir import check_private_dir, open_private_dir

log = logging.getLogger(__name__)

MAX_PENDING = 4 * 1024 * 1024
CLOSE_TIMEOUT = 5.0
BOOT_DEBOUNCE = 2.0  # seconds: no guest reboots twice within them
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND


class LogWriter:
    """The log of console ``console`` in private directory ``directory``, at most
    ``limit`` bytes per generation."""

    def __init__(self, directory: Path, console: str, limit: int) -> None:
        self.directory = directory
        self.console = console
        self.limit = limit
        self._dir_fd = -1
        self._log_fd = -1
        self._index_fd = -1
        self._size = 0
        self._stretch_start = -STRETCH
        self._queue: list[tuple[float, bytes | None, str | None]] = []
        self._pending = 0
        self._lost = 0
        self._last_boot = -BOOT_DEBOUNCE
        self._closing = False
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def open(self, booted: bool) -> None:
        """Open the files (raises OSError / ``UnsafeDirectory``) and start the writer; the
        log first gets a boot line (``booted``) or a line saying what it missed."""
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_dir(self.directory.parent, create=True)  # the state directory
        self._dir_fd = open_private_dir(self.directory, create=True)
        try:
            previous = capturelog.last_mark(self._dir_fd, self.console)
            self._open_files()
        except BaseException:
            self._close_files()
            raise
        self._queue_line(self._opening_line(booted, previous))
        self._thread = threading.Thread(target=self._write_all, name="capture-log", daemon=True)
        self._thread.start()

    def _opening_line(self, booted: bool, previous: capturelog.Mark | None) -> bytes:
        now = utc(time.time())
        if booted:
            return banner(i18n.CAPTURE_BOOT, time=now)
        if previous is None:
            return banner(i18n.CAPTURE_ATTACHED, time=now)
        why = previous.ended or i18n.translate(i18n.CAPTURE_HOST_DOWN)
        return banner(i18n.CAPTURE_GAP, start=utc(previous.time), end=now, reason=why)

    def _open_files(self) -> None:
        self._log_fd = capturelog.open_file(self._dir_fd, file_name(self.console, LOG), _APPEND)
        self._index_fd = capturelog.open_file(self._dir_fd, file_name(self.console, INDEX), _APPEND)
        self._size = os.fstat(self._log_fd).st_size

    def mark_boot(self) -> None:
        """The guest rebooted: a boot line, in order with the output around it. One per
        boot: libvirt may report one reset twice (with output between), so a report
        within ``BOOT_DEBOUNCE`` seconds of the last one adds none."""
        now = time.monotonic()
        if now - self._last_boot >= BOOT_DEBOUNCE:
            self._queue_line(banner(i18n.CAPTURE_BOOT, time=utc(time.time())))
            self._last_boot = now

    def record(self, data: bytes) -> None:
        """Queue ``data`` (the guest's output) for the log; never blocks."""
        self._queue_line(data)

    def _queue_line(self, data: bytes) -> None:
        with self._ready:
            if self._closing:
                return
            if self._pending + len(data) > MAX_PENDING:
                self._lost += len(data)
                return
            if not self._queue:
                self._ready.notify()  # the writer takes everything queued once it wakes
            self._queue.append((time.time(), data, None))
            self._pending += len(data)

    def close(self, why: str) -> None:
        """Write what is queued, then an end line saying ``why``; close the files."""
        with self._ready:
            if self._closing:
                return
            now = time.time()
            self._queue.append((now, banner(i18n.CAPTURE_ENDED, time=utc(now), reason=why), why))
            self._closing = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(CLOSE_TIMEOUT)
            if self._thread.is_alive():
                log.warning("the capture log of %s was not finished in time", self.console)
                return
        self._close_files()

    # the writer thread -------------------------------------------------------

    def _write_all(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                batch, self._queue = self._queue, []
                self._pending = 0
                lost, self._lost = self._lost, 0
                closing = self._closing
            try:
                if lost:
                    self._append(time.time(), self._lost_line(lost, batch))
                for when, data, ended in _coalesced(batch):
                    self._append(when, data, ended)
            except OSError as error:
                log.error("capture log of %s: %s; not logging any more", self.console, error)
                return
            if closing and not self._queue:
                return

    def _lost_line(self, lost: int, batch: list) -> bytes:
        now = time.time()
        why = i18n.translate(i18n.OUTPUT_SKIPPED, {"bytes": lost})
        start = utc(batch[-1][0]) if batch else utc(now)
        return banner(i18n.CAPTURE_GAP, start=start, end=utc(now), reason=why)

    def _append(self, when: float, data: bytes, ended: str | None = None) -> None:
        if ended is not None:
            self._write(data, when)
            self._mark(when, f" end {ended}")
            return
        view = memoryview(data)
        while view:
            if self._size >= self.limit:
                self._rotate()
            piece = view[: self.limit - self._size]
            self._write(piece, when)
            view = view[len(piece) :]

    def _write(self, data: bytes | memoryview, when: float) -> None:
        if when - self._stretch_start >= STRETCH or self._size == 0:
            self._stretch_start = when
            self._mark(when)
        written = 0
        while written < len(data):
            written += os.write(self._log_fd, data[written:])
        self._size += written

    def _mark(self, when: float, suffix: str = "") -> None:
        line = f"{self._size} {when:.3f}{suffix.replace(chr(10), ' ')}\n".encode()
        os.write(self._index_fd, line)

    def _rotate(self) -> None:
        self._close_log_files()
        for suffix in (LOG, INDEX):
            os.rename(
                file_name(self.console, suffix),
                file_name(self.console, suffix, OLDER),
                src_dir_fd=self._dir_fd,
                dst_dir_fd=self._dir_fd,
            )
        self._open_files()

    def _close_log_files(self) -> None:
        for fd in (self._log_fd, self._index_fd):
            if fd >= 0:
                os.close(fd)
        self._log_fd = self._index_fd = -1

    def _close_files(self) -> None:
        self._close_log_files()
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1


def _coalesced(batch: list[tuple[float, bytes, str | None]]):
    """``batch`` with output queued within a stretch of each other joined into one write."""
    joined: list[bytes] = []
    since = 0.0
    for when, data, ended in batch:
        if joined and (ended is not None or when - since >= STRETCH):
            yield since, b"".join(joined), None
            joined = []
        if ended is not None:
            yield when, data, ended
            continue
        if not joined:
            since = when
        joined.append(data)
    if joined:
        yield since, b"".join(joined), None
