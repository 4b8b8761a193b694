"""A real guest console: a non-blocking libvirt stream from virDomainOpenConsole.

Stream and domain events arrive on the asyncio loop through ``libvirtaio``: no threads,
no polling. Reading pauses (the READABLE event is dropped) while too much output waits for
the client, so a slow client slows the stream instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import libvirt
import libvirtaio

from plugin_serialconsole.console.protocol import ConsoleOpenError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
HIGH_WATER = 1024 * 1024
_READ_EVENTS = (
    libvirt.VIR_STREAM_EVENT_READABLE
    | libvirt.VIR_STREAM_EVENT_ERROR
    | libvirt.VIR_STREAM_EVENT_HANGUP
)
_QUIET_EVENTS = libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP


class LibvirtConsole:
    """One guest console device over its own libvirt connection."""

    def __init__(self, uri: str, guest_uuid: str, device: str, force: bool = False) -> None:
        self.uri = uri
        self.guest_uuid = guest_uuid
        self.device = device
        self.force = force
        self.end_reason: tuple[str, dict] | None = None
        self._buffer = bytearray()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._eof = False
        self._reading = True
        self._conn = None
        self._stream = None
        self._lifecycle_id: int | None = None

    def open(self) -> None:
        """Connect and open the console; call from inside the running event loop."""
        libvirtaio.virEventRegisterAsyncIOImpl()
        try:
            self._conn = libvirt.open(self.uri)
            domain = self._conn.lookupByUUIDString(self.guest_uuid)
            self._stream = self._conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
            flags = libvirt.VIR_DOMAIN_CONSOLE_SAFE
            if self.force:
                flags |= libvirt.VIR_DOMAIN_CONSOLE_FORCE
            domain.openConsole(self.device, self._stream, flags)
        except libvirt.libvirtError as error:
            self.close()
            raise ConsoleOpenError("SCONS0009E", error=error.get_error_message()) from error
        self._stream.eventAddCallback(_READ_EVENTS, self._on_stream_event, None)
        self._lifecycle_id = self._conn.domainEventRegisterAny(
            domain, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
        )

    def _on_stream_event(self, stream, events, _opaque) -> None:
        if events & libvirt.VIR_STREAM_EVENT_WRITABLE:
            self._writable.set()
        if events & libvirt.VIR_STREAM_EVENT_READABLE:
            self._drain_stream()
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._end("SCONS0109L", error="stream closed")

    def _drain_stream(self) -> None:
        while len(self._buffer) < HIGH_WATER:
            try:
                data = self._stream.recv(CHUNK)
            except libvirt.libvirtError as error:
                self._end("SCONS0109L", error=error.get_error_message())
                return
            if data == -2:
                break
            if not data:
                self._end("SCONS0109L", error="end of stream")
                return
            self._buffer += data
            self._readable.set()
        if len(self._buffer) >= HIGH_WATER and self._reading:
            self._reading = False
            self._stream.eventUpdateCallback(_QUIET_EVENTS)

    def _on_lifecycle(self, _conn, _domain, event, _detail, _opaque) -> None:
        if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            self._end("SCONS0104L")

    def _end(self, code: str, **params: object) -> None:
        if self.end_reason is None:
            self.end_reason = (code, params)
        self._eof = True
        self._readable.set()
        self._writable.set()

    async def read(self) -> bytes:
        while not self._buffer and not self._eof:
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._buffer[:CHUNK])
        del self._buffer[:CHUNK]
        if not self._reading and len(self._buffer) < HIGH_WATER // 2 and not self._eof:
            self._reading = True
            self._stream.eventUpdateCallback(_READ_EVENTS)
        return data

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._eof:
            try:
                sent = self._stream.send(bytes(view[:CHUNK]))
            except libvirt.libvirtError as error:
                self._end("SCONS0109L", error=error.get_error_message())
                return
            if sent == -2:
                await self._wait_writable()
                continue
            view = view[sent:]

    async def _wait_writable(self) -> None:
        self._writable.clear()
        events = _READ_EVENTS if self._reading else _QUIET_EVENTS
        self._stream.eventUpdateCallback(events | libvirt.VIR_STREAM_EVENT_WRITABLE)
        await self._writable.wait()
        self._stream.eventUpdateCallback(_READ_EVENTS if self._reading else _QUIET_EVENTS)

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(libvirt.libvirtError):
                self._stream.eventRemoveCallback()
            with contextlib.suppress(libvirt.libvirtError):
                self._stream.abort()
            self._stream = None
        if self._conn is not None:
            if self._lifecycle_id is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    self._conn.domainEventDeregisterAny(self._lifecycle_id)
            with contextlib.suppress(libvirt.libvirtError):
                self._conn.close()
            self._conn = None
