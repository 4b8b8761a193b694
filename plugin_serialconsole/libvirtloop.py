"""libvirt's default event loop on a daemon thread, once per process, and the keepalive
that loop runs on a remote connection.

Register the loop before a process opens a libvirt connection whose events (lifecycle,
stream, close) it wants: the host for its shared connections, each console process for its
own. Both import it, ``KEEPALIVE`` and ``close_reason`` from here, so a dead hypervisor is
noticed by both in the same time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Keepalive:
    """libvirt's keepalive on a remote connection (``virConnectSetKeepAlive``)."""

    interval: int  # seconds between probes on an idle connection
    count: int  # probes without an answer before libvirt closes the connection

    @property
    def bound(self) -> float:
        """Seconds after which a silent peer's connection is closed, at the latest."""
        return float(self.interval * (self.count + 1))

    def apply(self, conn: libvirt.virConnect) -> None:
        """Turn it on for ``conn``; raises libvirtError where the driver has none (local)."""
        conn.setKeepAlive(self.interval, self.count)


KEEPALIVE = Keepalive(interval=5, count=3)

_CLOSE_REASONS = {
    libvirt.VIR_CONNECT_CLOSE_REASON_ERROR: "connection error",
    libvirt.VIR_CONNECT_CLOSE_REASON_EOF: "the hypervisor closed the connection",
    libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE: "no answer to keepalive probes",
    libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT: "closed",
}


def close_reason(reason: int) -> str:
    """What a reason given to a connection's close callback means, in words."""
    return _CLOSE_REASONS.get(reason, "connection closed")
