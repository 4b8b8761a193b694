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


def test_a_chunk_bigger_than_the_ring_keeps_its_newest_bytes():
    ring = Ring(4)
    ring.append(b"ab")
    ring.append(b"0123456789")
    assert (ring.start, ring.end, ring.snapshot()) == (8, 12, b"6789")
    assert ring.read(10, 10) == b"89"


def test_held_back_bytes_may_outgrow_the_buffer_and_it_shrinks_again():
    ring = Ring(4)
    ring.append(b"abc", keep_from=0)
    ring.append(b"0123456789", keep_from=0)
    assert ring.snapshot() == b"abc0123456789"
    ring.append(b"xy", keep_from=ring.end)
    assert ring.snapshot() == b"89xy"
    for _ in range(3):
        ring.append(b"zzzzzzz")
    assert ring.snapshot() == b"zzzz" and len(ring._buffer) == 8


def test_the_buffer_grows_with_the_output_up_to_twice_the_capacity():
    ring = Ring(1024)
    ring.append(b"x" * 10)
    assert len(ring._buffer) < 100
    for _ in range(1000):
        ring.append(b"y" * 37)
        assert len(ring._buffer) <= 2048


def test_many_small_and_large_appends_read_back_exactly():
    import random

    rng = random.Random(7)
    ring, stream = Ring(100), bytearray()
    for _ in range(2000):
        data = rng.randbytes(rng.choice([1, 3, 17, 99, 100, 101, 250]))
        stream += data
        ring.append(data)
        assert ring.snapshot() == stream[-100:]
        offset = rng.randrange(ring.start, ring.end + 1)
        assert ring.read(offset, 40) == stream[offset : offset + 40]


def test_pieces_are_the_snapshot_cut_up():
    ring = Ring(10)
    ring.append(b"0123456789abc")
    assert ring.pieces(4) == [b"3456", b"789a", b"bc"]
    assert Ring(10).pieces(4) == []
