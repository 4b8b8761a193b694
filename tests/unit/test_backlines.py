"""A file's lines read backwards, a chunk at a time (``backlines``)."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin_serialconsole import backlines
from plugin_serialconsole.backlines import lines_backward

MAX_LINE = 16


def expected(data: bytes, max_line: int = MAX_LINE) -> list[bytes]:
    """What reading ``data`` line by line from its start, then reversing, gives."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # after the last newline: no line
    return [line for line in reversed(lines) if len(line) < max_line]


def backward(path: Path, chunk: int, end: int | None = None, max_line: int = MAX_LINE) -> list:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size if end is None else end
        return list(lines_backward(fd, size, max_line, chunk))
    finally:
        os.close(fd)


CONTENTS = {
    "empty": b"",
    "one newline": b"\n",
    "one line": b"abc\n",
    "no trailing newline": b"abc\ndef",
    "blank lines": b"\n\nabc\n\n\ndef\n\n",
    "utf-8 across boundaries": "h\u00e9llo\n\u20ac\u20ac\u20ac\n\U0001f600x\n".encode(),
    "long lines skipped": b"a\n" + b"x" * 40 + b"\nb\n" + b"y" * MAX_LINE + b"\nc",
    "a line just short of the bound": b"z" * (MAX_LINE - 1) + b"\n" + b"w" * MAX_LINE,
    "starts with a long line": b"q" * 50 + b"\nend\n",
    "ends with a long line": b"start\n" + b"q" * 50,
}


@pytest.mark.parametrize("name", CONTENTS)
def test_every_chunk_size_gives_the_lines_last_first(tmp_path, name):
    """Chunk edges fall everywhere: inside lines, on newlines, inside a character."""
    path = tmp_path / "lines"
    path.write_bytes(CONTENTS[name])
    for chunk in range(1, len(CONTENTS[name]) + 3):
        assert backward(path, chunk) == expected(CONTENTS[name]), f"chunk {chunk}"


def test_a_character_cut_by_a_chunk_edge_is_whole_in_its_line(tmp_path):
    path = tmp_path / "lines"
    text = "\u00e9t\u00e9 \u6771\u4eac \U0001f600"
    path.write_bytes(f"{text}\n{text}\n".encode())
    for chunk in range(1, 8):
        assert [line.decode() for line in backward(path, chunk, max_line=100)] == [text, text]


def test_only_the_bytes_up_to_the_end_given_are_read(tmp_path):
    """What a writer appends after the reader noted the end is not read; a line the end
    cuts comes first, as it is (its reader tells it is cut short)."""
    path = tmp_path / "lines"
    path.write_bytes(b"one\ntwo\nthree\n")
    assert backward(path, 3, end=8) == [b"two", b"one"]
    assert backward(path, 3, end=10) == [b"th", b"two", b"one"]


def test_a_file_cut_meanwhile_ends_the_reading(tmp_path):
    path = tmp_path / "lines"
    path.write_bytes(b"one\ntwo\n")
    assert backward(path, 4, end=100) == []


def test_the_reading_goes_no_further_back_than_it_is_asked(tmp_path, monkeypatch):
    path = tmp_path / "lines"
    path.write_bytes(b"".join(b"line %d\n" % n for n in range(10_000)))
    reads = []
    real_pread = os.pread

    def pread(fd: int, size: int, offset: int) -> bytes:
        reads.append(size)
        return real_pread(fd, size, offset)

    monkeypatch.setattr(backlines.os, "pread", pread)
    fd = os.open(path, os.O_RDONLY)
    try:
        lines: Iterator[bytes] = lines_backward(fd, os.fstat(fd).st_size, 100, 4096)
        assert [next(lines) for _ in range(3)] == [b"line 9999", b"line 9998", b"line 9997"]
    finally:
        os.close(fd)
    assert reads == [4096]


def test_a_huge_line_is_skipped_without_being_held(tmp_path):
    path = tmp_path / "lines"
    with open(path, "wb") as file:
        file.write(b"first\n")
        for _ in range(64):
            file.write(b"x" * 65536)
        file.write(b"\nlast\n")
    tracemalloc.start()
    try:
        lines = backward(path, 4096, max_line=1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == [b"last", b"first"]
    assert peak < 64 * 1024, "a 4 MiB line was held"
