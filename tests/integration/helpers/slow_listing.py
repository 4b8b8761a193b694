"""A host with one slow hypervisor: connected and healthy, but each of its listings after
the first waits until the test lets it through (a listing of hundreds of guests over a
WAN link, held as long as the test likes).

    python -m tests.integration.helpers.slow_listing GATE HYPERVISOR [host options]

``GATE`` is a FIFO: each listing of ``HYPERVISOR`` after the first (a ``listAllDomains``
made on that hypervisor's call thread) reads one byte from it, so it waits until the test
writes one (``release``). Everything else runs as ``serialconsole-host`` does.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import libvirt

from plugin_serialconsole.host import cli


def gate_listings(gate: Path, hypervisor: str) -> None:
    """Have every listing of ``hypervisor`` after the first wait for a byte on ``gate``."""
    gate_fd = os.open(gate, os.O_RDWR)  # never waits for a writer; each read waits for a byte
    thread = f"hypervisor {hypervisor} call"  # see HypervisorCalls
    list_all = libvirt.virConnect.listAllDomains
    listed = threading.Event()

    def slow_list_all(conn: libvirt.virConnect, flags: int = 0) -> list:
        if threading.current_thread().name == thread:
            if listed.is_set():
                os.read(gate_fd, 1)
            listed.set()
        return list_all(conn, flags)

    libvirt.virConnect.listAllDomains = slow_list_all


def release(gate: Path, listings: int = 1) -> None:
    """Let ``listings`` held (or coming) listings through (the test's side of ``gate``)."""
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
