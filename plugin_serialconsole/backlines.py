"""A file's lines read backwards: the last one first, a chunk at a time from its end.

Reading a log newest first this way costs what the reader takes: it holds one chunk and
the part of a line that began in an earlier chunk, and stops reading when it stops
asking. A line of ``max_line`` bytes or more is skipped, its bytes dropped as they are
read, so memory stays bounded whatever the file holds. Lines are bytes: a character that
a chunk's edge cuts is whole again once its line is joined.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

CHUNK = 64 * 1024


def lines_backward(fd: int, end: int, max_line: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """The lines of the first ``end`` bytes of the file open at ``fd``, the last first,
    without their newline. The text after the last newline (a line that ends the file
    without one, or one cut short while it was being written) comes first, when there is
    any. Lines of ``max_line`` bytes or more are left out. When the file turns out shorter
    than ``end`` (cut meanwhile), the reading ends there."""
    position = end
    partial = b""  # the end of a line whose start lies before ``position``
    too_long = False  # that line is too long: its bytes are dropped until its start
    ends_file = True  # that line is the text after the file's last newline
    while position > 0:
        size = min(chunk, position)
        position -= size
        block = os.pread(fd, size, position)
        if len(block) != size:
            return
        first, *rest = block.split(b"\n")
        if rest:
            last = rest.pop() + partial
            if not too_long and len(last) < max_line and (last or not ends_file):
                yield last
            ends_file = too_long = False
            for line in reversed(rest):
                if len(line) < max_line:
                    yield line
            partial = b""
        if not too_long:
            partial = first + partial
            if len(partial) >= max_line:
                partial, too_long = b"", True
    if end > 0 and not too_long and (partial or not ends_file):
        yield partial
