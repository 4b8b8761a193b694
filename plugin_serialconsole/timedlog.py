"""A capture log read as timed output and input, a piece at a time (for recordings).

Output is timed by the stretches of the log's index (``capturelog``): each byte has the
time its stretch started. Input comes from the input record beside it (``inputlog``).
The files stay open, as one consistent set of generations, until ``close``.
"""

from __future__ import annotations

import heapq
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

from plugin_serialconsole import capturelog, inputlog
from plugin_serialconsole.capturelog import Generation, Index, Mark

PIECE = 64 * 1024  # at most this many bytes of output are read at once

OUTPUT = "o"
INPUT = "i"


@dataclass(frozen=True)
class Event:
    """At ``time``, output (``OUTPUT``) or input (``INPUT``) ``data``."""

    time: float
    kind: str
    data: bytes


class TimedLog:
    """The capture log of ``console`` in the logs directory ``directory_fd``."""

    def __init__(self, directory_fd: int, console: str) -> None:
        self._generations = capturelog.open_generations(directory_fd, console)
        # closed also when dropped unread (a response whose body was never sent)
        self._closer = weakref.finalize(self, _close_all, self._generations)

    def __enter__(self) -> TimedLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closer()

    def exists(self) -> bool:
        """Whether there is a log at all."""
        return any(generation.log_fd >= 0 for generation in self._generations)

    def first_time(self) -> float | None:
        """When the oldest stretch the log still holds started."""
        for generation in self._generations:
            index = Index(generation.index_fd)
            try:
                if (mark := index.first(lambda _mark: True)) is not None:
                    return mark.time
            finally:
                index.close()
        return None

    def capture_end_after(self, moment: float) -> Mark | None:
        """The first end of the capture the index marks from ``moment`` on, if any."""
        for generation in self._generations:
            index = Index(generation.index_fd)
            try:
                marks = index.marks_from(lambda mark: mark.time >= moment)
                if (ended := next((m for m in marks if m.ended is not None), None)) is not None:
                    return ended
            finally:
                index.close()
        return None

    def events(
        self, since: float | None, until: float | None, session: str | None = None
    ) -> Iterator[Event]:
        """Output from ``since`` until ``until`` and, with ``session``, that session's input,
        in time order."""
        output = (
            Event(time, OUTPUT, data)
            for generation in self._generations
            for time, data in _output(generation, since, until)
        )
        if session is None:
            return output
        typed = (
            Event(event.time, INPUT, event.data)
            for generation in self._generations
            for event in inputlog.read_events(generation.input_fd, since, until, session)
        )
        return heapq.merge(output, typed, key=lambda event: event.time)


def _close_all(generations: list[Generation]) -> None:
    for generation in generations:
        generation.close()


def _output(
    generation: Generation, since: float | None, until: float | None
) -> Iterator[tuple[float, bytes]]:
    """(time, bytes) of one generation's stretches that started from ``since`` until
    ``until``, in pieces of at most ``PIECE`` bytes."""
    if generation.log_fd < 0:
        return
    size = os.fstat(generation.log_fd).st_size
    index = Index(generation.index_fd)
    try:
        marks = index.marks_from(lambda mark: since is None or mark.time >= since)
        current: Mark | None = None
        for mark in marks:
            if until is not None and mark.time > until:
                break
            if current is None and since is None and mark.offset > 0:
                yield from _pieces(generation.log_fd, 0, mark.offset, mark.time)
            if current is not None:
                yield from _pieces(generation.log_fd, current.offset, mark.offset, current.time)
            current = mark
        else:
            mark = None
        if current is not None:
            end = mark.offset if mark is not None else size
            yield from _pieces(generation.log_fd, current.offset, end, current.time)
    finally:
        index.close()


def _pieces(fd: int, start: int, end: int, time: float) -> Iterator[tuple[float, bytes]]:
    end = min(end, os.fstat(fd).st_size)
    while start < end:
        data = os.pread(fd, min(PIECE, end - start), start)
        if not data:
            return
        yield time, data
        start += len(data)
