"""Recent console output: a bounded byte buffer addressed by absolute offsets.

An offset counts every byte ever appended, so a reader's position keeps its meaning while
the oldest bytes are dropped: a reader at an offset before ``start`` has missed
``start - offset`` bytes.

The bytes live in one buffer of (at most, once grown) twice the capacity, as a sliding
window: new bytes go after the newest, dropping the oldest only moves the window's start,
and when the window reaches the buffer's end it is moved back to the front (at most one
capacity's worth of copying per capacity appended). A buffer that grew and shrank again
as a deque of chunks or a bytearray trimmed at the front would, under a flood, churn the
allocator into fragmenting memory several times the ring's size.
"""

from __future__ import annotations


class Ring:
    """The most recent ``capacity`` bytes of a stream (more while some are held back)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be >= 1, not {capacity}")
        self.capacity = capacity
        self.start = 0  # the offset of the oldest byte kept
        self._buffer = bytearray()  # grows as output comes, to twice the capacity
        self._head = 0  # where the oldest byte kept is in _buffer
        self._tail = 0  # where the next byte goes

    def __len__(self) -> int:
        return self._tail - self._head

    @property
    def end(self) -> int:
        """The offset of the next byte to come (= bytes ever appended)."""
        return self.start + len(self)

    def append(self, data: bytes, keep_from: int | None = None) -> None:
        """Add ``data``, dropping the oldest bytes beyond ``capacity`` — but none from
        offset ``keep_from`` on (a reader that must not miss anything)."""
        keep = self.end + len(data) - self.capacity
        if keep_from is not None:
            keep = min(keep, keep_from)
        view = memoryview(data)
        if keep > self.start:
            dropped = min(keep - self.start, len(self))
            self._head += dropped
            self.start += dropped
            skipped = keep - self.start  # > 0: even the oldest of ``data`` goes
            if skipped > 0:
                view = view[skipped:]
                self.start += skipped
        if self._tail + len(view) > len(self._buffer):
            self._make_room(len(view))
        self._buffer[self._tail : self._tail + len(view)] = view
        self._tail += len(view)

    def _make_room(self, incoming: int) -> None:
        live, size, limit = len(self), len(self._buffer), 2 * self.capacity
        needed = live + incoming
        if needed > size or (2 * needed > size and size < limit):
            size = max(needed, min(limit, 2 * max(size, needed)))  # doubling up to the limit
        elif size > limit and needed <= limit:
            size = limit  # held-back bytes had outgrown it and are gone
        if size != len(self._buffer):
            buffer = bytearray(size)
            buffer[:live] = self._buffer[self._head : self._tail]
            self._buffer = buffer
        else:
            with memoryview(self._buffer) as view:
                view[:live] = view[self._head : self._tail]
        self._head, self._tail = 0, live

    def read(self, offset: int, limit: int) -> bytes:
        """Up to ``limit`` bytes from ``offset``, which must not be before ``start``."""
        at = offset - self.start
        if at < 0:
            raise ValueError(f"offset {offset} was dropped (the ring starts at {self.start})")
        begin = self._head + min(at, len(self))
        with memoryview(self._buffer) as view:
            return bytes(view[begin : min(begin + limit, self._tail)])

    def snapshot(self) -> bytes:
        with memoryview(self._buffer) as view:
            return bytes(view[self._head : self._tail])

    def pieces(self, size: int) -> list[bytes]:
        """Everything kept, in pieces of at most ``size`` bytes: small blocks the
        allocator reuses, rather than one as big as the ring each time."""
        with memoryview(self._buffer) as view:
            return [
                bytes(view[at : min(at + size, self._tail)])
                for at in range(self._head, self._tail, size)
            ]
