"""Output waiting for the capture log: its bytes copied into one reused ring buffer, and
where in them a stretch of output starts or the capture ends.

Copying a chunk into a buffer that is kept from batch to batch costs the relay a
``memcpy``; keeping the guest's chunks themselves until the writer is done would make
every chunk fresh memory the kernel has to fault in and zero, which costs several times
more under a flood.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEEP = 64 * 1024  # bytes of buffer a batch keeps while the log is idle
# A batch's buffer starts this small and doubles: an idle capture's boot lines need a few
# KB, and a buffer is zeroed (every page of it written) when it is made.
FIRST = 4096


@dataclass(frozen=True)
class Mark:
    """At ``offset`` in a batch, a stretch of output starts (``ended`` None) or, after the
    end line, the capture ends, saying ``ended``."""

    offset: int
    time: float
    ended: str | None = None
    cut: bool = False  # a console session opens or ends here: always marked in the index


@dataclass
class Batch:
    """A ring: ``size`` bytes from ``start`` on, wrapping at the buffer's end. Forgetting
    its front only moves ``start``, so a buffer, once grown, is never reallocated while
    output flows (fresh memory costs the relay a page fault per page)."""

    ceiling: int = KEEP  # grown at most to this (or to what one add needs)
    buffer: bytearray = field(default_factory=bytearray)
    start: int = 0
    size: int = 0
    marks: list[Mark] = field(default_factory=list)

    def add(self, data: bytes, stretch_starts: float | None = None, cut: bool = False) -> None:
        """Append ``data``; a new stretch of output starts with it at ``stretch_starts``
        (one that is always marked, with ``cut``)."""
        if stretch_starts is not None:
            self.marks.append(Mark(self.size, stretch_starts, cut=cut))
        if self.size + len(data) > len(self.buffer):
            self._grow(self.size + len(data))
        capacity = len(self.buffer)
        at = (self.start + self.size) % capacity
        first = capacity - at
        if len(data) <= first:
            self.buffer[at : at + len(data)] = data
        else:
            view = memoryview(data)
            self.buffer[at:] = view[:first]
            self.buffer[: len(data) - first] = view[first:]
        self.size += len(data)

    def _grow(self, needed: int) -> None:
        """A larger buffer holding the same bytes from its start: during a flood only until
        it reaches its high water."""
        capacity = max(needed, min(2 * len(self.buffer), self.ceiling), FIRST)
        grown = bytearray(capacity)
        at = 0
        for piece in self._views(0, self.size):
            grown[at : at + len(piece)] = piece
            at += len(piece)
        self.buffer, self.start = grown, 0

    def drop_front(self, size: int) -> None:
        """Forget the first ``size`` bytes; a stretch that started in them goes on at the
        new start."""
        self.start = (self.start + size) % len(self.buffer)
        self.size -= size
        dropped = [mark for mark in self.marks if mark.offset < size]
        kept = [
            Mark(m.offset - size, m.time, m.ended, m.cut) for m in self.marks if m.offset >= size
        ]
        if dropped and not (kept and kept[0].offset == 0):
            kept.insert(0, Mark(0, dropped[-1].time, cut=dropped[-1].cut))
        self.marks = kept

    def end(self, when: float, why: str) -> None:
        self.marks.append(Mark(self.size, when, why))

    def _views(self, begin: int, end: int) -> list[memoryview]:
        """Bytes ``begin`` to ``end`` of the batch: one view, or two where they wrap."""
        if begin == end:
            return [memoryview(self.buffer)[:0]]
        view = memoryview(self.buffer)
        capacity = len(self.buffer)
        first, last = (self.start + begin) % capacity, (self.start + end) % capacity
        if first < last or not last:
            return [view[first : last or capacity]]
        return [view[first:], view[:last]]

    def pieces(self):
        """(bytes, the mark after them or None): the batch cut at its marks (and where it
        wraps, with no mark between)."""
        start = 0
        for mark in self.marks:
            *views, last = self._views(start, mark.offset)
            yield from ((view, None) for view in views)
            yield last, mark
            start = mark.offset
        yield from ((view, None) for view in self._views(start, self.size))

    def holds_memory(self) -> bool:
        """Whether its buffer was grown by a flood."""
        return len(self.buffer) > KEEP

    def clear(self, release: bool) -> None:
        """Empty, for the next batch; a buffer grown by a flood is given back if
        ``release`` (during a flood it is reused: fresh memory costs page faults)."""
        self.start = self.size = 0
        self.marks = []
        if release and self.holds_memory():
            self.buffer = bytearray()
