"""Appends a capture's output to its log on a thread of its own (format: ``capturelog``).

The guest pump only hands bytes over (``record``): it never waits for the disk and never
wakes the writer per chunk. The writer, woken by the first output after a quiet spell,
lingers ``LINGER`` seconds and then writes all of it at once: under a flood that is a few
large writes a second instead of one per chunk, each costing the relay a thread switch.
Output a flood would rotate out of the log before anybody could read it is never written:
when ``MAX_PENDING`` bytes wait, whole generations are forgotten from their front (the
log ends up the same, as its files always fill to exactly ``limit``). Where the limit is
too large for that, the writer is woken at ``FLUSH_BYTES``; should the disk still fall
``MAX_PENDING`` behind, newer output is not queued but counted, and the log says how much
is missing there.

A console session opening or ending cuts the log (``cut``; times: ``sessioncuts``): the
output after it starts a stretch of its own, so the session's stretch of the log is
found by time exactly. With ``keeps_input``, what a writer typed is written beside the
log (``record_input``; format: ``inputlog``) by the same thread, and rotates with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

from plugin_serialconsole import capturelog, i18n, inputlog
from plugin_serialconsole.capturelog import (
    INDEX,
    INPUT,
    LOG,
    OLDER,
    STRETCH,
    banner,
    file_name,
    utc,
)
from plugin_serialconsole.console.logbatch import Batch
from plugin_serialconsole.console.sessioncuts import SessionCuts
from plugin_serialconsole.rundir import check_private_dir, open_private_dir

log = logging.getLogger(__name__)

MAX_PENDING = 4 * 1024 * 1024
FLUSH_BYTES = 2 * 1024 * 1024  # this much waiting wakes the writer early (large limits)
LINGER = 0.1  # seconds the writer gathers output before writing it
QUIET = 1.0  # seconds without output after which a flood's buffers are given back
CLOSE_TIMEOUT = 5.0
BOOT_DEBOUNCE = 2.0  # seconds: no guest reboots twice within them
INDEX_SHARE = 4  # an index grows past 1/INDEX_SHARE of its log's size (+ INDEX_SLACK) by
INDEX_SLACK = 4096  # capture ends only: stretch starts are marked while it is smaller
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND


class LogWriter:
    """The log of console ``console`` in private directory ``directory``, at most
    ``limit`` bytes per generation."""

    def __init__(
        self, directory: Path, console: str, limit: int, keeps_input: bool = False
    ) -> None:
        self.directory = directory
        self.console = console
        self.limit = limit
        self.keeps_input = keeps_input
        self._dir_fd = -1
        self._log_fd = -1
        self._index_fd = -1
        self._size = 0
        self._index_size = 0
        self._input = inputlog.InputFile()
        self._typed = inputlog.PendingInput(MAX_PENDING)
        self._cuts = SessionCuts()
        self._marked = False  # whether this capture has marked a stretch yet
        self._stretch_time = 0.0  # the writer's: when the stretch being written started
        self._queued_stretch = -STRETCH  # when the last stretch queued started
        self._filling = Batch(MAX_PENDING)
        self._spare = Batch(MAX_PENDING)  # the writer's, while it does not write
        self._lost = 0
        self._lost_since = 0.0
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
        self._index_size = os.fstat(self._index_fd).st_size
        if self.keeps_input:
            self._input.open(self._dir_fd, file_name(self.console, INPUT))

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

    def cut(self) -> float:
        """A console session opens or ends now: the output from now on starts a stretch of
        its own, marked later than the time returned (unix time, to the millisecond)."""
        with self._ready:
            return self._cuts.cut(time.time())

    def record_input(self, session: str, data: bytes) -> None:
        """The writer of ``session`` typed ``data``: the output that answers it starts a
        stretch (so a recording shows the echo when it came, not up to a second early), and
        with ``keeps_input`` the input is queued for its record; never blocks (beyond
        ``MAX_PENDING`` waiting, input is not recorded)."""
        with self._ready:
            if self._closing:
                return
            self._queued_stretch = -STRETCH
            if not self.keeps_input:
                return
            if not self._typed.events:
                self._ready.notify()
            self._typed.add(inputlog.InputEvent(self._cuts.typed(time.time()), session, data))

    def _queue_line(self, data: bytes) -> None:
        with self._ready:
            if self._closing:
                return
            now = time.time()
            size = self._filling.size
            if size + len(data) > MAX_PENDING and not self._rotate_away(size + len(data)):
                if not self._lost:
                    self._lost_since = now
                self._lost += len(data)
                return
            flush = not self._can_rotate_away and size < FLUSH_BYTES <= size + len(data)
            if not size or flush:
                self._ready.notify()  # a lingering writer has output: not woken per chunk
            self._add(data, now)

    @property
    def _can_rotate_away(self) -> bool:
        return 3 * self.limit <= MAX_PENDING

    def _rotate_away(self, wanted: int) -> bool:
        """Make room for ``wanted`` bytes by forgetting whole generations from the front of
        the waiting output that the rest of it would rotate out of the log anyway (a flood
        at least two generations deep); whether there is room now."""
        excess = wanted - MAX_PENDING
        drop = -(-excess // self.limit) * self.limit
        if self._filling.size - drop < 2 * self.limit:
            return False
        self._filling.drop_front(drop)
        return True

    def _add(self, data: bytes, now: float) -> None:
        stretch, cut = self._cuts.stretch(now, now - self._queued_stretch >= STRETCH)
        if stretch is not None:
            self._queued_stretch = stretch
        self._filling.add(data, stretch, cut)

    def close(self, why: str) -> None:
        """Write what is queued, then an end line saying ``why``; close the files."""
        with self._ready:
            if self._closing:
                return
            now = time.time()
            self._add(banner(i18n.CAPTURE_ENDED, time=utc(now), reason=why), now)
            self._filling.end(self._cuts.ended(now), why)  # after every session's cut
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
                while not (self._filling.size or self._lost or self._typed.events or self._closing):
                    if not self._ready.wait(QUIET if self._holds_memory() else None):
                        self._filling.clear(release=True)  # quiet a while: memory back
                        self._spare.clear(release=True)
                if not self._closing and self._filling.size < FLUSH_BYTES:
                    self._ready.wait(LINGER)  # gather more: fewer, larger writes
                batch, self._filling = self._filling, self._spare
                lost, self._lost = self._lost, 0
                typed = self._typed.take()
                closing = self._closing
            try:
                self._write_batch(batch)
                self._write_input(typed)
                if lost:
                    self._start_stretch(time.time())
                    self._append(memoryview(self._lost_line(lost)))
            except OSError as error:
                log.error("capture log of %s: %s; not logging any more", self.console, error)
                return
            if closing:
                return
            batch.clear(release=False)
            self._spare = batch  # reused while output goes on: no fresh memory per batch

    def _holds_memory(self) -> bool:
        return self._filling.holds_memory() or self._spare.holds_memory()

    def _write_batch(self, batch: Batch) -> None:
        for data, mark in batch.pieces():
            self._append(data)
            if mark is None:
                continue
            if mark.ended is None:
                self._start_stretch(mark.time, mark.cut)
            else:
                self._mark(mark.time, f" end {mark.ended}")

    def _lost_line(self, lost: int) -> bytes:
        why = i18n.translate(i18n.OUTPUT_SKIPPED, {"bytes": lost})
        start, end = utc(self._lost_since), utc(time.time())
        return banner(i18n.CAPTURE_GAP, start=start, end=end, reason=why)

    def _start_stretch(self, when: float, cut: bool = False) -> None:
        """A stretch of output starts: marked in the index while that stays small beside the
        log (a guest printing a byte a second would otherwise make the index many times the
        log's size; past that, its output counts to the stretch before), and always for the
        capture's first line and at a cut (sessions are few beside output)."""
        self._stretch_time = when
        if self._size >= self.limit:
            self._rotate()  # marks the new file's start
        elif cut or not self._marked or self._index_size < self._size // INDEX_SHARE + INDEX_SLACK:
            self._mark(when)

    def _write_input(self, typed: list[inputlog.InputEvent]) -> None:
        for event in typed:
            if self._input.size >= self.limit:
                self._rotate()
            self._input.append(event)

    def _append(self, data: memoryview) -> None:
        if skip := self._rotated_away(len(data)):
            self._rotate()
            data = data[skip:]
        while data:
            if self._size >= self.limit:
                self._rotate()
            piece = data[: self.limit - self._size]
            written = 0
            while written < len(piece):
                written += os.write(self._log_fd, piece[written:])
            self._size += written
            data = data[written:]

    def _rotated_away(self, length: int) -> int:
        """How many leading bytes of ``length`` about to be appended the rest of them would
        rotate away (a flood of more than two generations): those are never written, and
        the files end up as if they had been."""
        room = max(0, self.limit - self._size)
        rest = length - room
        if rest <= self.limit:
            return 0
        generations = -(-rest // self.limit)  # the last one possibly partial
        return room + (generations - 2) * self.limit

    def _mark(self, when: float, suffix: str = "") -> None:
        line = f"{self._size} {when:.3f}{suffix.replace(chr(10), ' ')}\n".encode()
        os.write(self._index_fd, line)
        self._index_size += len(line)
        self._marked = True

    def _rotate(self) -> None:
        self._close_log_files()
        for suffix in (LOG, INDEX, INPUT):
            # Not renamed over the older one: ext4 would then start writing the renamed
            # file out at once (auto_da_alloc), a few ms per rotation under a flood.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file_name(self.console, suffix, OLDER), dir_fd=self._dir_fd)
            with contextlib.suppress(FileNotFoundError):  # an input record: if kept
                os.rename(
                    file_name(self.console, suffix),
                    file_name(self.console, suffix, OLDER),
                    src_dir_fd=self._dir_fd,
                    dst_dir_fd=self._dir_fd,
                )
        self._open_files()
        self._mark(self._stretch_time)

    def _close_log_files(self) -> None:
        for fd in (self._log_fd, self._index_fd):
            if fd >= 0:
                os.close(fd)
        self._log_fd = self._index_fd = -1
        self._input.close()

    def _close_files(self) -> None:
        self._close_log_files()
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1
