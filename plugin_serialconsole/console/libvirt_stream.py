"""A real guest console: a non-blocking libvirt stream from virDomainOpenConsole.

Stream, domain and connection events arrive on the asyncio loop through ``libvirtaio``: no
threads, no polling. Reading pauses (the READABLE event is dropped) while too much output
waits for the client, so a slow client slows the stream instead of growing memory.

When the stream ends and the guest still runs, the console is opened again (without
force): that keeps a console across anything that makes libvirt close it, and tells a
takeover apart from other failures — after another client forced the console away, the
reopen finds it busy. What libvirt 9.0 does, measured: an open without FORCE while another
client holds the device fails with VIR_ERR_OPERATION_FAILED ("Active console session
exists"); an open with FORCE aborts the holder's stream, whose next read fails ("stream had
I/O failure"); a destroyed or powered-off guest ends the stream (EOF) around the same time
as the STOPPED lifecycle event, in either order; a guest reboot keeps the stream.
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
# Reopens in a row that brought no output before the console is given up.
MAX_QUIET_REOPENS = 3
# How long a console that cannot be reopened waits for the guest's STOPPED event.
STOP_EVENT_GRACE = 3.0
IN_USE = "SCONS0003E"
OPEN_FAILED = "SCONS0009E"
GUEST_STOPPED = "SCONS0104L"
TAKEN_OVER = "SCONS0107L"
CONSOLE_CLOSED = "SCONS0109L"
_READ_EVENTS = (
    libvirt.VIR_STREAM_EVENT_READABLE
    | libvirt.VIR_STREAM_EVENT_ERROR
    | libvirt.VIR_STREAM_EVENT_HANGUP
)
_QUIET_EVENTS = libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
_STOP_EVENTS = (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_CRASHED)
# Output pacing (see OutputPacer): output that comes faster than STREAM_RATE bytes/s until
# STREAM_BYTES have built up above that rate is a stream...
STREAM_RATE = 8 * 1024
STREAM_BYTES = 1024
# ...read at most every HOLD seconds, unless HOLD_BYTES are already waiting.
HOLD = 0.004
HOLD_BYTES = 4096


def _log_libvirt_error(_context: object, error: tuple) -> None:
    """libvirt prints every error on stderr unless told otherwise; callers handle them."""
    log.debug("libvirt: %s", error[2] if len(error) > 2 else error)


def _is_busy(error: libvirt.libvirtError) -> bool:
    """The device is held by another client (see the module docstring)."""
    return error.get_error_code() == libvirt.VIR_ERR_OPERATION_FAILED


class OutputPacer:
    """How long a read waits for more output before taking what is there.

    A UART hands libvirt a few bytes at a time: relayed one by one, each costs a wakeup
    in every process down to the browser, CPU a TCG guest then lacks. Interactive output
    (an echo, a prompt, even typed as fast as a script can) goes out at once; once output
    streams (a leaky bucket draining STREAM_RATE bytes/s holds STREAM_BYTES), reads are
    spaced HOLD apart so each carries more.
    """

    def __init__(self) -> None:
        self._backlog = 0.0
        self._last = float("-inf")

    def _level(self, now: float) -> float:
        return max(0.0, self._backlog - (now - self._last) * STREAM_RATE)

    def hold(self, now: float, waiting: int) -> float:
        """Seconds to wait before reading, with ``waiting`` bytes buffered at ``now``."""
        if self._level(now) < STREAM_BYTES or waiting >= HOLD_BYTES:
            return 0.0
        return max(0.0, self._last + HOLD - now)

    def took(self, now: float, size: int) -> None:
        self._backlog = self._level(now) + size
        self._last = now


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
        self._stopped = asyncio.Event()
        self._eof = False
        self._reading = True
        self._quiet_reopens = 0
        self._pacer = OutputPacer()
        self._recovery: asyncio.Task | None = None
        self._conn = None
        self._domain = None
        self._stream = None
        self._lifecycle_id: int | None = None

    # opening -----------------------------------------------------------------

    def open(self) -> None:
        """Connect and open the console; call from inside the running event loop."""
        libvirtaio.virEventRegisterAsyncIOImpl()
        libvirt.registerErrorHandler(_log_libvirt_error, None)
        try:
            self._conn = libvirt.open(self.uri)
            self._domain = self._conn.lookupByUUIDString(self.guest_uuid)
            self._conn.registerCloseCallback(self._on_connection_closed, None)
            self._lifecycle_id = self._conn.domainEventRegisterAny(
                self._domain, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
            )
            self._open_stream(self.force)
        except libvirt.libvirtError as error:
            self.close()
            if _is_busy(error) and not self.force:
                raise ConsoleOpenError(IN_USE, device=self.device) from error
            raise ConsoleOpenError(OPEN_FAILED, error=error.get_error_message()) from error

    def _open_stream(self, force: bool) -> None:
        stream = self._conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        flags = libvirt.VIR_DOMAIN_CONSOLE_SAFE
        if force:
            flags |= libvirt.VIR_DOMAIN_CONSOLE_FORCE
        try:
            self._domain.openConsole(self.device, stream, flags)
        except libvirt.libvirtError:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise
        self._reading = len(self._buffer) < HIGH_WATER
        stream.eventAddCallback(
            _READ_EVENTS if self._reading else _QUIET_EVENTS, self._on_stream_event, None
        )
        self._stream = stream

    # events --------------------------------------------------------------------

    def _on_stream_event(self, stream, events: int, _opaque) -> None:
        if stream is not self._stream:
            return
        if events & libvirt.VIR_STREAM_EVENT_WRITABLE:
            self._writable.set()
        if events & libvirt.VIR_STREAM_EVENT_READABLE:
            self._drain_stream()
        elif events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._stream_failed("stream closed")

    def _drain_stream(self) -> None:
        while self._stream is not None and len(self._buffer) < HIGH_WATER:
            try:
                data = self._stream.recv(CHUNK)
            except libvirt.libvirtError as error:
                self._stream_failed(error.get_error_message())
                return
            if data == -2:
                break
            if not data:
                self._stream_failed("end of stream")
                return
            self._buffer += data
            self._quiet_reopens = 0
            self._readable.set()
        if self._stream is not None and len(self._buffer) >= HIGH_WATER and self._reading:
            self._reading = False
            self._stream.eventUpdateCallback(_QUIET_EVENTS)

    def _on_lifecycle(self, _conn, _domain, event: int, _detail: int, _opaque) -> None:
        if event in _STOP_EVENTS:
            self._stopped.set()
            self._end(GUEST_STOPPED)

    def _on_connection_closed(self, _conn, reason: int, _opaque) -> None:
        self._end(CONSOLE_CLOSED, error=f"the libvirt connection closed (reason {reason})")

    # losing the stream ------------------------------------------------------------

    def _stream_failed(self, error: str) -> None:
        """The stream is gone: find out why, off the libvirt callback, and maybe reopen."""
        self._drop_stream()
        if self._eof or self._recovery is not None:
            return
        log.info("console stream of %s ended: %s", self.device, error)
        self._recovery = asyncio.get_running_loop().create_task(self._recover(error))

    async def _recover(self, error: str) -> None:
        try:
            if not self._guest_active():
                self._end(GUEST_STOPPED)
                return
            if self._quiet_reopens >= MAX_QUIET_REOPENS:
                self._end(CONSOLE_CLOSED, error=error)
                return
            self._quiet_reopens += 1
            try:
                self._open_stream(force=False)
            except libvirt.libvirtError as failure:
                await self._reopen_failed(failure)
                return
            log.info("console %s of %s reopened", self.device, self.guest_uuid)
            self._writable.set()
        except libvirt.libvirtError as failure:  # the connection itself is gone
            self._end(CONSOLE_CLOSED, error=failure.get_error_message())
        finally:
            self._recovery = None

    def _guest_active(self) -> bool:
        try:
            return bool(self._domain.isActive())
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False
            raise

    async def _reopen_failed(self, failure: libvirt.libvirtError) -> None:
        if _is_busy(failure):
            self._end(TAKEN_OVER)
            return
        # A guest being destroyed may fail the reopen before libvirt reports it stopped.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), STOP_EVENT_GRACE)
        self._end(CONSOLE_CLOSED, error=failure.get_error_message())

    def _end(self, code: str, **params: object) -> None:
        if self.end_reason is None:
            self.end_reason = (code, params)
        self._eof = True
        self._readable.set()
        self._writable.set()

    # the GuestConsole interface ----------------------------------------------------

    async def read(self) -> bytes:
        while not self._buffer and not self._eof:
            self._readable.clear()
            await self._readable.wait()
        loop = asyncio.get_running_loop()
        hold = self._pacer.hold(loop.time(), len(self._buffer))
        if hold and not self._eof:
            await asyncio.sleep(hold)
        data = bytes(self._buffer[:CHUNK])
        del self._buffer[:CHUNK]
        self._pacer.took(loop.time(), len(data))
        if not self._reading and len(self._buffer) < HIGH_WATER // 2 and self._stream is not None:
            self._reading = True
            self._stream.eventUpdateCallback(_READ_EVENTS)
            self._drain_stream()
        return data

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._eof:
            stream = self._stream
            if stream is None:  # being reopened
                self._writable.clear()
                await self._writable.wait()
                continue
            try:
                sent = stream.send(bytes(view[:CHUNK]))
            except libvirt.libvirtError as error:
                self._stream_failed(error.get_error_message())
                continue
            if sent == -2:
                await self._wait_writable(stream)
                continue
            view = view[sent:]

    async def _wait_writable(self, stream) -> None:
        self._writable.clear()
        events = _READ_EVENTS if self._reading else _QUIET_EVENTS
        try:
            stream.eventUpdateCallback(events | libvirt.VIR_STREAM_EVENT_WRITABLE)
        except libvirt.libvirtError as error:
            self._stream_failed(error.get_error_message())
            return
        await self._writable.wait()
        if stream is self._stream:
            stream.eventUpdateCallback(_READ_EVENTS if self._reading else _QUIET_EVENTS)

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(libvirt.libvirtError):
            stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()

    def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
        self._drop_stream()
        if self._conn is None:
            return
        if self._lifecycle_id is not None:
            with contextlib.suppress(libvirt.libvirtError):
                self._conn.domainEventDeregisterAny(self._lifecycle_id)
        with contextlib.suppress(libvirt.libvirtError):
            self._conn.unregisterCloseCallback()
        with contextlib.suppress(libvirt.libvirtError):
            self._conn.close()
        self._conn = None
