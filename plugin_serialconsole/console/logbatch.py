"""Output waiting for the capture log: its bytes copied into one reused buffer, and where in
them a stretch of output starts or the capture ends.

Copying a chunk into a buffer that is kept from batch to batch costs the relay a
``memcpy``; keeping the guest's chunks themselves until the writer is done would make
every chunk fresh memory the kernel has to fault in and zero, which costs several times
more under a flood.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEEP = 64 * 1024  # bytes of buffer a batch keeps while the log is idle


@dataclass(frozen=True)
class Mark:
    """At ``offset`` in a batch, a stretch of output starts (``ended`` None) or, after the
    end line, the capture ends, saying ``ended``."""

    offset: int
    time: float
    ended: str | None = None


@dataclass
class Batch:
    buffer: bytearray = field(default_factory=bytearray)
    size: int = 0
    marks: list[Mark] = field(default_factory=list)

    def add(self, data: bytes, stretch_starts: float | None = None) -> None:
        """Append ``data``; a new stretch of output starts with it at ``stretch_starts``."""
        if stretch_starts is not None:
            self.marks.append(Mark(self.size, stretch_starts))
        end = self.size + len(data)
        self.buffer[self.size : end] = data  # grows the buffer only past its high water
        self.size = end

    def drop_front(self, size: int) -> None:
        """Forget the first ``size`` bytes; a stretch that started in them goes on at the
        new start."""
        del self.buffer[:size]
        self.size -= size
        dropped = [mark for mark in self.marks if mark.offset < size]
        kept = [Mark(m.offset - size, m.time, m.ended) for m in self.marks if m.offset >= size]
        if dropped and not (kept and kept[0].offset == 0):
            kept.insert(0, Mark(0, dropped[-1].time))
        self.marks = kept

    def end(self, when: float, why: str) -> None:
        self.marks.append(Mark(self.size, when, why))

    def pieces(self):
        """(bytes, the mark after them or None): the batch cut at its marks."""
        view = memoryview(self.buffer)[: self.size]
        start = 0
        for mark in self.marks:
            yield view[start : mark.offset], mark
            start = mark.offset
        yield view[start:], None

    def holds_memory(self) -> bool:
        """Whether its buffer was grown by a flood."""
        return len(self.buffer) > KEEP

    def clear(self, release: bool) -> None:
        """Empty, for the next batch; a buffer grown by a flood is given back if
        ``release`` (during a flood it is reused: fresh memory costs page faults)."""
        self.size = 0
        self.marks = []
        if release and self.holds_memory():
            self.buffer = bytearray()
