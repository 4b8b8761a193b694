"""Memory and CPU of a process tree, read from /proc (Linux)."""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name)
                )
            except (OSError, IndexError):
                continue
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def proxy_pid(host_pid: int) -> int:
    """The host's WebSocket proxy, the one process that relays every console connection."""
    (pid,) = [pid for pid in descendants(host_pid) if b"bridge.proxy" in cmdline(pid)]
    return pid


def _kb(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    """Resident set size (shared pages counted in full)."""
    return _kb(f"/proc/{pid}/status", "VmRSS") / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages divided among the processes sharing them."""
    return _kb(f"/proc/{pid}/smaps_rollup", "Pss") / 1024


def private_mb(pid: int) -> float:
    """Memory only ``pid`` maps (unlike its PSS, it does not shrink when another process
    maps the same libraries)."""
    path = f"/proc/{pid}/smaps_rollup"
    return (_kb(path, "Private_Clean") + _kb(path, "Private_Dirty")) / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (those that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def idle_cpu_percent(root: int, seconds: float) -> float:
    """CPU used by ``root``'s tree over ``seconds`` of wall time, in % of one core."""
    pids = descendants(root)
    before, started = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pids) - before) / (time.monotonic() - started)
