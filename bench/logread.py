"""The capture log's read cost when its index is huge (a slow trickle before the index was
bounded: one line per byte, ~1M lines): the console page's ``until`` + ``tail`` read."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

from plugin_serialconsole import capturelog

CONSOLE = "0123456789abcdef01234567"
LINES = 1_000_000
LOG_BYTES = 1 << 20
TAIL = 64 * 1024
START = 1_700_000_000


def _write(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    index = b"".join(b"%d %d.000\n" % (n, START + 2 * n) for n in range(LINES))
    for suffix, content in ((".log", b"x" * LOG_BYTES), (".idx", index)):
        path = directory / f"{CONSOLE}{suffix}"
        path.write_bytes(content)
        path.chmod(0o600)


def run(workdir: Path) -> dict[str, float]:
    directory = workdir / "logread"
    _write(directory)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tracemalloc.start()
        cpu = time.process_time()
        data = capturelog.read_log(fd, CONSOLE, until=START + 2 * LINES - 100, tail=TAIL)
        cpu = time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        os.close(fd)
    size = (directory / f"{CONSOLE}.idx").stat().st_size
    return {
        "index_mb": size / 1e6,
        "answered_bytes": len(data),
        "cpu_s": cpu,
        "peak_python_mb": peak / 1e6,
    }
