"""The simulated guest's shell: what a command line typed at its prompt does, never a real shell.

It knows ``echo``, ``seq``, ``sha256sum`` (of what is typed until Ctrl+D), ``help`` and
``poweroff``; anything else is "not found". A line splits into words as ``sh`` would
(quotes and backslashes through ``shlex``). ``seq``'s output is made lazily, a chunk at a
time as the reader asks for it, so it runs as fast as the client takes it and never
piles up in memory. The console (``simulated``) edits the line, echoes it and does what
a command asks for.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

CHUNK = 64 * 1024  # bytes of output at most per read
SEQ_BATCH = 4096  # numbers per chunk outside whole blocks of 1000
HELP = "commands: echo ARGS, seq N, sha256sum (input ends with Ctrl+D), help, poweroff"
# A line without quotes or backslashes splits like shlex.split, only much faster.
PLAIN_WORDS = re.compile("[^ \t\r\n]+")

# The lines of a block of 1000 numbers k000..k999, the prefix k left as a placeholder:
# one bytes.replace makes a whole block, so seq runs at memory speed, not per-number speed.
_BLOCK = 1000
_PREFIX = b"K"
_BLOCK_LINES = b"".join(b"K%03d\r\n" % n for n in range(_BLOCK))


@dataclass(frozen=True)
class Command:
    """What a command line does; with nothing set, the prompt comes back at once."""

    reply: str | None = None  # a line printed, then the prompt
    output: Iterator[bytes] | None = None  # printed as read, then the prompt
    hashes_input: bool = False  # input until Ctrl+D is hashed (``sha256sum``)
    powers_off: bool = False


def run(line: str) -> Command:
    """What the command ``line`` (without its line ending) does."""
    try:
        words = shlex.split(line) if _quoted(line) else PLAIN_WORDS.findall(line)
    except ValueError as error:
        return Command(reply=f"sh: syntax error: {error}")
    if not words:
        return Command()
    command, args = words[0], words[1:]
    if command == "echo":
        return Command(reply=" ".join(args))
    if command == "seq":
        if len(args) != 1 or not args[0].isdigit():
            return Command(reply="usage: seq N")
        return Command(output=seq_output(int(args[0])))
    if command == "sha256sum" and not args:
        return Command(hashes_input=True)
    if command == "help":
        return Command(reply=HELP)
    if command == "poweroff":
        return Command(powers_off=True)
    return Command(reply=f"sh: {command}: not found")


def _quoted(line: str) -> bool:
    return "'" in line or '"' in line or "\\" in line


def _lines(start: int, stop: int) -> bytes:
    return (b"%d\r\n" * (stop - start)) % tuple(range(start, stop))


def seq_output(last: int) -> Iterator[bytes]:
    """``seq LAST`` with terminal line endings, in chunks of at most about CHUNK bytes."""
    head = min(last + 1, _BLOCK)
    for start in range(1, head, SEQ_BATCH):
        yield _lines(start, min(start + SEQ_BATCH, head))
    blocks = (last + 1) // _BLOCK
    per_chunk = max(1, CHUNK // len(_BLOCK_LINES.replace(_PREFIX, b"%d" % blocks)))
    for k in range(1, blocks, per_chunk):
        stop = min(k + per_chunk, blocks)
        yield b"".join([_BLOCK_LINES.replace(_PREFIX, b"%d" % n) for n in range(k, stop)])
    for start in range(max(head, blocks * _BLOCK), last + 1, SEQ_BATCH):
        yield _lines(start, min(start + SEQ_BATCH, last + 1))
