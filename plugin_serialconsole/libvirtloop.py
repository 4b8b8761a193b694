"""libvirt's default event loop on a daemon thread, once per process.

Register it before a process opens a libvirt connection whose events (lifecycle, stream)
it wants: the host for its shared connection, each console process for its own. Both
import it from here.
"""

from __future__ import annotations

import threading

import libvirt

_thread_lock = threading.Lock()
_thread: threading.Thread | None = None


def start_event_thread() -> None:
    """libvirt's default event loop on a daemon thread; once per process, before connecting."""
    global _thread
    with _thread_lock:
        if _thread is None:
            libvirt.virEventRegisterDefaultImpl()
            _thread = threading.Thread(target=_run_events, name="libvirt-events", daemon=True)
            _thread.start()


def _run_events() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()
