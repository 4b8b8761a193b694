"""Processes seen through /proc: who runs, who is whose child, memory, descriptors."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .host import Host

RSS_SAMPLE_INTERVAL = 0.05


def processes_mentioning(text: str) -> dict[int, str]:
    """Live processes (not zombies) whose command line contains ``text``."""
    needle = text.encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def run_dir_leftovers(run_dir: Path) -> dict[str, Any]:
    """What a stopped host left in and of its run dir (processes naming it, console
    sockets, tokens); empty when clean."""
    left: dict[str, Any] = {}
    if processes := processes_mentioning(str(run_dir)):
        left["processes"] = processes
    for name in ("consoles", "tokens"):
        directory = run_dir / name
        if directory.is_dir() and (files := sorted(p.name for p in directory.iterdir())):
            left[name] = files
    return left


def children(pid: int) -> dict[int, str]:
    """The children of ``pid`` and their state letters (``Z``: a zombie nobody reaped)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found[int(entry.name)] = fields[0]
    return found


def children_of(pid: int, marker: str) -> list[int]:
    """The live children of ``pid`` whose command line mentions ``marker``."""
    return [child for child in processes_mentioning(marker) if child in children(pid)]


def zombies_of(pid: int) -> list[int]:
    """The children of ``pid`` that ended and were not reaped."""
    return [child for child, state in children(pid).items() if state == "Z"]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def pid_gone(pid: int) -> bool:
    """True when ``pid`` neither runs nor lingers as a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return not Path(f"/proc/{pid}").exists()
    return False


def assert_pid_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not Path(f"/proc/{pid}").exists(), f"process {pid} is a zombie (not reaped)"


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL the given processes (descendants of a host this suite started)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- memory


def proc_field(pid: int, name: str) -> int:
    """A number from /proc/<pid>/status (``VmRSS``, ``PPid``, ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {name} for {pid}")


def rss_kib(pid: int) -> int:
    return proc_field(pid, "VmRSS")


def watch_rss(
    pids: Iterable[int],
    until: Callable[[], Any],
    timeout: float,
    what: str,
    check_every: float = RSS_SAMPLE_INTERVAL,
) -> dict[int, int]:
    """The highest RSS (KiB) of each of ``pids`` until ``until()`` (asked every
    ``check_every`` seconds) is true; fail with ``what`` if not within ``timeout`` s."""
    peak = dict.fromkeys(pids, 0)
    now = time.monotonic()
    deadline, check_at = now + timeout, now + check_every
    while True:
        for pid in peak:
            peak[pid] = max(peak[pid], rss_kib(pid))
        if (now := time.monotonic()) >= check_at:
            if until():
                return peak
            if now >= deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            check_at = now + check_every
        time.sleep(RSS_SAMPLE_INTERVAL)


def watch_rss_for(pids: Iterable[int], seconds: float) -> dict[int, int]:
    """The highest RSS (KiB) of each of ``pids`` over the next ``seconds``: a window in
    which a test makes sure something does *not* grow."""
    deadline = time.monotonic() + seconds
    return watch_rss(pids, lambda: time.monotonic() >= deadline, seconds + 1, "the window")


# --------------------------------------------------------------------------- a host's


def console_processes(host: Host) -> list[int]:
    """The host's console processes (not the zygote that forks them)."""
    return [
        pid
        for pid, cmd in processes_mentioning("plugin_serialconsole.console --").items()
        if str(host.run_dir) in cmd
    ]


def connection_handlers(host: Host) -> list[int]:
    """Processes the host's proxy started (it serves every connection itself: none)."""
    proxies = processes_mentioning("bridge.proxy")
    mine = [pid for pid, cmd in proxies.items() if str(host.run_dir) in cmd]
    return [pid for pid in mine if proc_field(pid, "PPid") in mine]


def proxy_process(host: Host) -> int:
    """The host's WebSocket proxy, which relays every console connection."""
    (pid,) = [
        pid
        for pid, cmd in processes_mentioning("bridge.proxy").items()
        if str(host.run_dir) in cmd and proc_field(pid, "PPid") == host.proc.pid
    ]
    return pid
