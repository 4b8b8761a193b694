"""The audit log's costs: one append (what a request waits for), and reading a full set of
files (the current one and ``KEEP`` old ones) for ``GET /audit``: time and peak memory of
an unfiltered ``GET /audit?limit=100`` (the newest hundred events), of one whose ``limit``
of 1000 matches lie in the newest file, and of one no event matches (every file is read)."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from pathlib import Path

from plugin_serialconsole.auditfile import KEEP, AuditFile

SIZE = 10 * 1024 * 1024  # audit_log_size's default
APPENDS = 20_000
EVENT = {
    "time": "2026-01-01T00:00:00.000Z", "event": "send", "operator": "alice",
    "client": "192.0.2.1", "hypervisor": "default", "guest": "web-1",
    "uuid": "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001", "device": "serial0",
    "session": "0123456789abcdef", "login": "fedcba9876543210", "action": "sysrq", "key": "h",
}  # fmt: skip


def unfiltered(event: dict) -> bool:
    """What ``GET /audit`` with no filter (and no rights file) accepts: any event with a time."""
    return isinstance(event.get("time"), str)


def run(workdir: Path) -> dict[str, float]:
    directory = workdir / "auditlog"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    file = AuditFile(directory / "audit.log", SIZE).open()
    waits = []
    for number in range(APPENDS):
        started = time.perf_counter()
        file.append({**EVENT, "n": number})
        waits.append(time.perf_counter() - started)
    line = len((directory / "audit.log").read_bytes().split(b"\n", 1)[0]) + 1
    while not file.old_files()[0].exists():  # fill every kept file
        file.append(EVENT)
    file.close()
    started = time.perf_counter()
    assert len(file.read(unfiltered, 100)) == 100
    latest_s = time.perf_counter() - started
    tracemalloc.start()
    file.read(unfiltered, 100)
    latest_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    started = time.perf_counter()
    found = file.read(lambda event: event.get("guest") == "web-1", 1000)
    newest_s = time.perf_counter() - started
    assert len(found) == 1000
    tracemalloc.start()
    started = time.perf_counter()
    assert file.read(lambda event: event.get("guest") == "elsewhere", 1000) == []
    read_s = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    on_disk = sum(path.stat().st_size for path in directory.iterdir())
    return {
        "append_p50_us": statistics.median(waits) * 1e6,
        "append_p99_us": sorted(waits)[int(len(waits) * 0.99)] * 1e6,
        "line_bytes": line,
        "files": KEEP + 1,
        "on_disk_mb": on_disk / 1e6,
        "read_limit100_s": latest_s,
        "read_limit100_peak_python_mb": latest_peak / 1e6,
        "read_newest_s": newest_s,
        "read_all_s": read_s,
        "read_peak_python_mb": peak / 1e6,
    }
