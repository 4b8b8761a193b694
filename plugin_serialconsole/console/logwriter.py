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
This module is the queue in front of the files and the thread that empties it; the files
themselves, their rotation and their index are ``logfiles``.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from plugin_serialconsole import capturelog, i18n, inputlog
from plugin_serialconsole.capturelog import STRETCH, banner, utc
from plugin_serialconsole.console.logbatch import Batch
from plugin_serialconsole.console.logfiles import LogFiles
from plugin_serialconsole.console.sessioncuts import SessionCuts

log = logging.getLogger(__name__)

MAX_PENDING = 4 * 1024 * 1024
FLUSH_BYTES = 2 * 1024 * 1024  # this much waiting wakes the writer early (large limits)
LINGER = 0.1  # seconds the writer gathers output before writing it
QUIET = 1.0  # seconds without output after which a flood's buffers are given back
CLOSE_TIMEOUT = 5.0
BOOT_DEBOUNCE = 2.0  # seconds: no guest reboots twice within them


class LogWriter:
    """The log of console ``console`` in private directory ``directory``, at most
    ``limit`` bytes per generation."""

    def __init__(
        self, directory: Path, console: str, limit: int, keeps_input: bool = False
    ) -> None:
        self.console = console
        self.limit = limit
        self.keeps_input = keeps_input
        self._files = LogFiles(directory, console, limit, keeps_input)
        self._typed = inputlog.PendingInput(MAX_PENDING)
        self._cuts = SessionCuts()
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
        previous = self._files.open()
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
        self._files.close()

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
                self._files.write_batch(batch)
                self._files.write_input(typed)
                if lost:
                    self._files.write_stretch(time.time(), self._lost_line(lost))
            except OSError as error:
                log.error("capture log of %s: %s; not logging any more", self.console, error)
                return
            if closing:
                return
            batch.clear(release=False)
            self._spare = batch  # reused while output goes on: no fresh memory per batch

    def _holds_memory(self) -> bool:
        return self._filling.holds_memory() or self._spare.holds_memory()

    def _lost_line(self, lost: int) -> bytes:
        why = i18n.translate(i18n.OUTPUT_SKIPPED, {"bytes": lost})
        start, end = utc(self._lost_since), utc(time.time())
        return banner(i18n.CAPTURE_GAP, start=start, end=end, reason=why)
