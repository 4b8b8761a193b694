"""A host with one slow hypervisor: connected and healthy, but each of its listings waits
until the test lets it through (a listing of hundreds of guests over a WAN link, held as
long as the test likes).

    python -m tests.integration.helpers.slow_listing GATE HYPERVISOR [host options]

``GATE`` is a FIFO: each listing of ``HYPERVISOR`` (a ``listAllDomains`` made on that
hypervisor's call thread, where the fleet lists it) reads one byte from it, so it waits
until the test writes one (``release``; bytes written ahead let later listings through at
once). Everything else runs as ``serialconsole-host`` does.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import libvirt

from plugin_serialconsole.host import cli


def gate_listings(gate: Path, hypervisor: str) -> None:
    """Have every listing of ``hypervisor`` wait for a byte on ``gate``."""
    gate_fd = os.open(gate, os.O_RDWR)  # never waits for a writer; each read waits for a byte
    thread = f"hypervisor {hypervisor} call"  # see HypervisorCalls
    list_all = libvirt.virConnect.listAllDomains

    def slow_list_all(conn: libvirt.virConnect, flags: int = 0) -> list:
        if threading.current_thread().name == thread:
            os.read(gate_fd, 1)
        return list_all(conn, flags)

    libvirt.virConnect.listAllDomains = slow_list_all


def release(gate: Path, listings: int = 1) -> None:
    """Let ``listings`` held (or coming) listings through: the test's side of ``gate``,
    which the host must have opened already (it has once it announced its URLs)."""
    fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)  # the host holds the reading end
    try:
        os.write(fd, b"x" * listings)
    finally:
        os.close(fd)


def main() -> int:
    gate, hypervisor, *options = sys.argv[1:]
    gate_listings(Path(gate), hypervisor)
    return cli.main(options)


if __name__ == "__main__":
    sys.exit(main())
