"""What the bench's figures were measured on: CPU, cores, memory, kernel, Python, libvirt and
QEMU versions, and the load when the run started (the machine is often shared, so the
load goes with the figures)."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any


def describe() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if "model name" in line),
        platform.processor(),
    )
    memory = next((line.split()[1] for line in _lines("/proc/meminfo") if "MemTotal" in line), 0)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(memory) / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "libvirt": _libvirt_version(),
        "qemu": _qemu_version(),
        "load_at_start": os.getloadavg(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _libvirt_version() -> str:
    import libvirt

    major, rest = divmod(libvirt.getVersion(), 1_000_000)
    return f"{major}.{rest // 1000}.{rest % 1000}"


def _qemu_version() -> str | None:
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        return None
    done = subprocess.run([qemu, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0] if done.stdout else None
