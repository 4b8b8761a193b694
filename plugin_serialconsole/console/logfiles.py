"""One capture's files on disk, as its log writer's thread writes them (format: ``capturelog``).

The log, its time index and, where input is kept, the record of what writers typed, in a
private directory reached without following links. The files grow to ``limit`` bytes and
then rotate into one older generation (``.1``), all three together. Output that the rest
of one write would rotate away at once (a flood of more than two generations) is never
written: the files end up as if it had been. The index marks where stretches of output
start, while it stays small beside the log.

Only the writer thread calls these methods (``open`` and ``close`` before and after it
runs): nothing here is locked.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from plugin_serialconsole import capturelog, inputlog
from plugin_serialconsole.capturelog import INDEX, INPUT, LOG, OLDER, file_name
from plugin_serialconsole.console.logbatch import Batch
from plugin_serialconsole.rundir import check_private_dir, open_private_dir

INDEX_SHARE = 4  # an index grows past 1/INDEX_SHARE of its log's size (+ INDEX_SLACK) by
INDEX_SLACK = 4096  # capture ends only: stretch starts are marked while it is smaller
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND


class LogFiles:
    """The files of console ``console`` in private directory ``directory``, at most
    ``limit`` bytes per generation; with ``keeps_input``, the input record too."""

    def __init__(self, directory: Path, console: str, limit: int, keeps_input: bool) -> None:
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
        self._marked = False  # whether this capture has marked a stretch yet
        self._stretch_time = 0.0  # when the stretch being written started

    def open(self) -> capturelog.Mark | None:
        """Open the files (raises OSError / ``UnsafeDirectory``); the last mark an earlier
        capture left in the index, if any."""
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_dir(self.directory.parent, create=True)  # the state directory
        self._dir_fd = open_private_dir(self.directory, create=True)
        try:
            previous = capturelog.last_mark(self._dir_fd, self.console)
            self._open_files()
        except BaseException:
            self.close()
            raise
        return previous

    def _open_files(self) -> None:
        self._log_fd = capturelog.open_file(self._dir_fd, file_name(self.console, LOG), _APPEND)
        self._index_fd = capturelog.open_file(self._dir_fd, file_name(self.console, INDEX), _APPEND)
        self._size = os.fstat(self._log_fd).st_size
        self._index_size = os.fstat(self._index_fd).st_size
        if self.keeps_input:
            self._input.open(self._dir_fd, file_name(self.console, INPUT))

    def write_batch(self, batch: Batch) -> None:
        """Append ``batch``'s output, marking where its stretches start and the capture ends."""
        for data, mark in batch.pieces():
            self._append(data)
            if mark is None:
                continue
            if mark.ended is None:
                self._start_stretch(mark.time, mark.cut)
            else:
                self._mark(mark.time, f" end {mark.ended}")

    def write_stretch(self, when: float, line: bytes) -> None:
        """Append ``line`` as a stretch of its own, started at ``when``."""
        self._start_stretch(when)
        self._append(memoryview(line))

    def write_input(self, typed: list[inputlog.InputEvent]) -> None:
        """Append what writers typed to the input record."""
        for event in typed:
            if self._input.size >= self.limit:
                self._rotate()
            self._input.append(event)

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
        self._close_generation()
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

    def _close_generation(self) -> None:
        for fd in (self._log_fd, self._index_fd):
            if fd >= 0:
                os.close(fd)
        self._log_fd = self._index_fd = -1
        self._input.close()

    def close(self) -> None:
        """Close the files and the directory."""
        self._close_generation()
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1
