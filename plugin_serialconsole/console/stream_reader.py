"""The output side of a real guest console: its libvirt stream read into a buffer that the
console's pump (``fanout``) takes from.

Interactive output is read as libvirt reports it (READABLE). Once output streams it is read
again after a short hold (``pacing``), straight from the loop: asking libvirt's thread for
READABLE would cost a round trip between the threads for output that is nearly always
there by then. Reading stops while HIGH_WATER bytes wait for the pump, which bounds this
buffer should the loop fall behind. It cannot slow the guest down: libvirtd drains the
guest's pty and sends each message once the last is written to its socket
(``remote_daemon_stream.c``), and libvirt's client queues every message that comes whether
the stream is read or not (``virnetclientstream.c``) — over ``qemu:///system`` and
``qemu+tls://`` alike. So the pump never waits for a client of a libvirt console: what is
not read here would pile up in that queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import libvirt

from plugin_serialconsole.console.libvirt_events import StreamEvents
from plugin_serialconsole.console.pacing import OutputPacer

CHUNK = 64 * 1024
HIGH_WATER = 1024 * 1024


class StreamReader:
    """Reads the stream attached now; ``on_output`` hears of new output, ``on_failed`` of a
    stream that failed or ended (with libvirt's words), both on the loop."""

    def __init__(self, on_output: Callable[[], None], on_failed: Callable[[str], None]) -> None:
        self.stream = None
        self._on_output = on_output
        self._on_failed = on_failed
        self._events: StreamEvents | None = None
        self._buffer = bytearray()
        self._pacer = OutputPacer()
        self._full = False  # reading stopped: HIGH_WATER bytes wait for the pump
        self._read_later: asyncio.TimerHandle | None = None  # a read due after a hold

    @property
    def has_output(self) -> bool:
        return bool(self._buffer)

    def attach(self, stream, events: StreamEvents) -> None:
        """Read ``stream`` from now on, its events reported through ``events``."""
        self._events = events
        self._full = len(self._buffer) >= HIGH_WATER
        events.attach(stream, read=not self._full)
        self.stream = stream

    def detach(self):
        """Stop reading; the stream that was attached, if any."""
        self._cancel_held_read()
        stream, self.stream = self.stream, None
        return stream

    def drain(self, stream) -> None:
        """Read what libvirt holds of ``stream`` (if it is still the one attached); then
        again after a hold while output streams, else once libvirt reports READABLE."""
        if stream is not self.stream:  # a report about a stream replaced meanwhile
            return
        self._cancel_held_read()
        received = 0
        while stream is self.stream and len(self._buffer) < HIGH_WATER:
            try:
                data = stream.recv(CHUNK)
            except libvirt.libvirtError as error:
                self._failed(received, error.get_error_message())
                return
            if data == -2:
                break
            if not data:
                self._failed(received, "end of stream")
                return
            self._buffer += data
            received += len(data)
        if stream is not self.stream:
            return
        if received:
            self._on_output()
        now = self._events.loop.time()
        self._pacer.took(now, received)
        self._full = len(self._buffer) >= HIGH_WATER
        if self._full:
            return
        hold = self._pacer.hold(now) if received else 0.0
        if hold > 0:
            self._read_later = self._events.loop.call_later(hold, self.drain, stream)
        else:
            self._ask_readable()

    def _failed(self, received: int, error: str) -> None:
        """The stream failed or ended after ``received`` bytes of this read: they are
        the client's too (its reader is woken, the reopen counts them as output)."""
        if received:
            self._on_output()
        self._on_failed(error)

    def take(self) -> bytes:
        """Up to CHUNK bytes of the output read; reading goes on once the pump caught up."""
        data = bytes(self._buffer[:CHUNK])
        del self._buffer[:CHUNK]
        if self._full and len(self._buffer) < HIGH_WATER // 2:
            self._full = False
            self._ask_readable()
        return data

    def _cancel_held_read(self) -> None:
        if self._read_later is not None:
            self._read_later.cancel()
            self._read_later = None

    def _ask_readable(self) -> None:
        if self._read_later is None and self.stream is not None:  # not while a read is due
            with contextlib.suppress(libvirt.libvirtError):  # gone: its failure is reported
                self._events.update(self.stream, read=True)
