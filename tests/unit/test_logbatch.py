"""The output waiting for the capture log (issue 15): a ring that a flood never makes
reallocate, whose pieces give back exactly the bytes and marks it was given."""

from __future__ import annotations

import random
import tracemalloc

from plugin_serialconsole.console.logbatch import Batch

CHUNK = bytes(range(256)) * 16  # 4 KiB, as the relay hands them over
DEPTH = 1024 * 1024  # output waiting while the log falls behind a flood


def test_a_flood_dropping_the_front_allocates_no_fresh_buffer():
    batch = Batch()
    for _ in range(DEPTH // len(CHUNK)):
        batch.add(CHUNK)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(200):  # 50 MB more through the same waiting depth
            batch.drop_front(16 * len(CHUNK))
            for _ in range(16):
                batch.add(CHUNK)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert batch.size == DEPTH
    assert peak - before < 64 * 1024  # no buffer the size of the waiting output


def test_a_boots_few_lines_hold_a_few_kb_not_a_flood_buffer():
    batch = Batch()
    boot = b"[    0.000000] Linux version 6.1.0\r\n" * 10  # an idle capture's output
    batch.add(boot)
    assert len(batch.buffer) <= 4096  # a buffer is zeroed when made: all of it is memory
    for _ in range(64):  # then a flood: it grows as before
        batch.add(CHUNK)
    assert batch.size == len(boot) + 64 * len(CHUNK) <= len(batch.buffer)


def test_pieces_give_back_the_bytes_and_marks_across_the_wrap():
    rng = random.Random(15)
    batch = Batch(ceiling=256 * 1024)
    expected = bytearray()
    wrapped = 0
    stretches: list[tuple[int, float]] = []  # (offset, time) a model keeps by hand
    for step in range(600):
        if expected and rng.random() < 0.15:
            size = rng.randrange(1, len(expected) + 1)
            batch.drop_front(size)
            del expected[:size]
            dropped = [s for s in stretches if s[0] < size]
            stretches = [(offset - size, when) for offset, when in stretches if offset >= size]
            if dropped and not (stretches and stretches[0][0] == 0):
                stretches.insert(0, (0, dropped[-1][1]))
            continue
        data = rng.randbytes(rng.randrange(1, 8192))
        starts = float(step) if rng.random() < 0.2 else None
        if starts is not None:
            stretches.append((len(expected), starts))
        batch.add(data, starts)
        expected += data
        at, marks = 0, []
        joined = bytearray()
        for piece, mark in batch.pieces():
            joined += piece
            at += len(piece)
            if mark is not None:
                assert mark.offset == at
                marks.append((mark.offset, mark.time))
        wrapped += batch.start + batch.size > len(batch.buffer)
        assert joined == expected
        assert marks == stretches
    assert wrapped  # the output went on at the buffer's start
