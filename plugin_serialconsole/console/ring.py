"""Recent console output: a bounded byte buffer addressed by absolute offsets.

An offset counts every byte ever appended, so a reader's position keeps its meaning while
the oldest bytes are dropped: a reader at an offset before ``start`` has missed
``start - offset`` bytes.
"""

from __future__ import annotations


class Ring:
    """The most recent ``capacity`` bytes of a stream (more while some are held back)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be >= 1, not {capacity}")
        self.capacity = capacity
        self.start = 0
        self._data = bytearray()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def end(self) -> int:
        """The offset of the next byte to come (= bytes ever appended)."""
        return self.start + len(self._data)

    def append(self, data: bytes, keep_from: int | None = None) -> None:
        """Add ``data``, then drop the oldest bytes beyond ``capacity`` — but none from
        offset ``keep_from`` on (a reader that must not miss anything)."""
        self._data += data
        excess = len(self._data) - self.capacity
        if keep_from is not None:
            excess = min(excess, keep_from - self.start)
        if excess > 0:
            # Deleting from the front of a bytearray only moves its start: no copy.
            del self._data[:excess]
            self.start += excess

    def read(self, offset: int, limit: int) -> bytes:
        """Up to ``limit`` bytes from ``offset``, which must not be before ``start``."""
        at = offset - self.start
        if at < 0:
            raise ValueError(f"offset {offset} was dropped (the ring starts at {self.start})")
        return bytes(self._data[at : at + limit])

    def snapshot(self) -> bytes:
        return bytes(self._data)
