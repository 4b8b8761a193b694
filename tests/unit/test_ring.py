"""The ring of recent output: absolute offsets, bounded size, bytes held for a reader."""

from __future__ import annotations

import pytest

from plugin_serialconsole.console.ring import Ring


def test_keeps_everything_within_capacity():
    ring = Ring(10)
    ring.append(b"abc")
    ring.append(b"defg")
    assert (ring.start, ring.end, len(ring)) == (0, 7, 7)
    assert ring.snapshot() == b"abcdefg"
    assert ring.read(2, 3) == b"cde"
    assert ring.read(5, 100) == b"fg"
    assert ring.read(7, 100) == b""


def test_drops_the_oldest_bytes_and_offsets_stay_absolute():
    ring = Ring(4)
    ring.append(b"abcdef")
    assert (ring.start, ring.end) == (2, 6)
    assert ring.snapshot() == b"cdef"
    ring.append(b"gh")
    assert (ring.start, ring.end) == (4, 8)
    assert ring.read(5, 2) == b"fg"


def test_reading_dropped_bytes_is_an_error():
    ring = Ring(4)
    ring.append(b"abcdef")
    with pytest.raises(ValueError, match="dropped"):
        ring.read(1, 1)


def test_keep_from_holds_bytes_a_reader_has_not_had():
    ring = Ring(4)
    ring.append(b"abcdef", keep_from=1)
    assert (ring.start, ring.end) == (1, 6)  # over capacity, but nothing from offset 1 dropped
    ring.append(b"g", keep_from=5)
    assert (ring.start, ring.snapshot()) == (3, b"defg")  # back to capacity: 5 and on stay
    ring.append(b"hij", keep_from=ring.end)
    assert ring.snapshot() == b"ghij"


def test_size_stays_bounded_over_many_appends():
    ring = Ring(1000)
    for number in range(10_000):
        ring.append(f"{number}\r\n".encode())
        assert len(ring) <= 1000
    assert ring.snapshot().endswith(b"9998\r\n9999\r\n")
    assert ring.end == sum(len(f"{n}\r\n") for n in range(10_000))


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        Ring(0)
