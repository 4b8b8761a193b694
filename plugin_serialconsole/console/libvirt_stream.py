"""A real guest console: a non-blocking libvirt stream from virDomainOpenConsole.

libvirt's events come from its own event loop on a thread (``libvirt_events``) and are
handled on the asyncio loop; its output is read by ``stream_reader`` (paced, bounded).

When the stream ends and the guest still runs, the console is opened again (without
force): that keeps a console across anything that makes libvirt close it, and tells a
takeover apart from other failures — after another client forced the console away, the
reopen finds it busy. What libvirt 9.0 does, measured: an open without FORCE while another
client holds the device fails with VIR_ERR_OPERATION_FAILED ("Active console session
exists"); an open with FORCE aborts the holder's stream, whose next read fails ("stream had
I/O failure"); a destroyed or powered-off guest ends the stream (EOF) around the same time
as the STOPPED lifecycle event, in either order; a guest reboot keeps the stream.

The guest's side (the connection, its events, opening a stream) is ``libvirt_guest``.
Recovery's libvirt calls and the connection's teardown run off the loop, bounded
(``libvirt_calls``): a libvirtd that never answers must not keep ``stop`` waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import libvirt

from plugin_serialconsole.console.libvirt_calls import (
    LibvirtCallTimeout,
    off_loop,
    settled_in_time,
)
from plugin_serialconsole.console.libvirt_events import StreamEvents
from plugin_serialconsole.console.libvirt_guest import GuestConnection, is_busy
from plugin_serialconsole.console.protocol import ConsoleOpenError
from plugin_serialconsole.console.stream_reader import CHUNK, StreamReader
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.hypervisor_uris import redact_uri
from plugin_serialconsole.libvirtloop import close_reason, start_event_thread
from plugin_serialconsole.sendkeys import SendRequest

log = logging.getLogger(__name__)

# Reopens in a row that brought no output before the console is given up.
MAX_QUIET_REOPENS = 3
# How long a console that cannot be reopened waits for the guest's STOPPED event.
STOP_EVENT_GRACE = 3.0
_STOP_EVENTS = (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_CRASHED)


class LibvirtConsole:
    """One guest console device over its own libvirt connection."""

    def __init__(
        self,
        uri: str,
        guest_uuid: str,
        device: str,
        force: bool = False,
        opener: Callable[[str], libvirt.virConnect] = libvirt.open,
    ) -> None:
        self.uri = uri
        self.guest_uuid = guest_uuid
        self.device = device
        self.force = force
        self.end_reason: tuple[Reason, dict] | None = None
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._stopped = asyncio.Event()
        self._eof = False
        self._quiet_reopens = 0
        self._recovery: asyncio.Task | None = None
        self._events: StreamEvents | None = None
        self._guest = GuestConnection(uri, guest_uuid, opener)
        self._reads = StreamReader(self._output_came, self._stream_failed)
        self.on_reboot: Callable[[], None] | None = None  # the guest rebooted (on the loop)
        # libvirtd sends the guest's output whether it is read or not (stream_reader).
        self.waits_for_reader = False

    # opening -----------------------------------------------------------------

    def open(self) -> None:
        """Connect and open the console; call from inside the running event loop."""
        self._events = StreamEvents(
            asyncio.get_running_loop(), self._on_readable, self._on_writable, self._on_failed
        )
        start_event_thread()
        try:
            self._guest.connect(
                self._lifecycle_event, self._reboot_event, self._connection_closed_event
            )
            self._reads.attach(self._guest.open_console(self.device, self.force), self._events)
        except libvirt.libvirtError as error:
            self.close()
            if is_busy(error) and not self.force:
                raise ConsoleOpenError(Reason.IN_USE, device=self.device) from error
            raise ConsoleOpenError(Reason.OPEN_FAILED, error=error.get_error_message()) from error

    # events (handed over by libvirt's thread) ------------------------------------------

    def _lifecycle_event(self, event: int) -> None:
        self._events.to_loop(self._on_lifecycle, event)

    def _reboot_event(self) -> None:
        if self.on_reboot is not None:
            self._events.to_loop(self.on_reboot)

    def _connection_closed_event(self, reason: int) -> None:
        self._events.to_loop(self._on_connection_closed, reason)

    def _on_readable(self, stream) -> None:
        self._reads.drain(stream)

    def _output_came(self) -> None:
        self._quiet_reopens = 0
        self._readable.set()

    def _on_writable(self, stream) -> None:
        if stream is self._reads.stream:
            self._writable.set()

    def _on_failed(self, stream) -> None:
        if stream is self._reads.stream:
            self._stream_failed("stream closed")

    def _on_lifecycle(self, event: int) -> None:
        if event in _STOP_EVENTS:
            self._stopped.set()
            self._end(Reason.GUEST_STOPPED)

    def _on_connection_closed(self, reason: int) -> None:
        if reason == libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT:  # closed here
            self._end(Reason.CONSOLE_CLOSED, error=close_reason(reason))
        else:
            self._hypervisor_lost(close_reason(reason))

    def _hypervisor_lost(self, error: str) -> None:
        """The connection to the guest's hypervisor broke: the console ends, saying which
        hypervisor (its URI without credentials) and why."""
        self._end(Reason.HYPERVISOR_UNREACHABLE, hypervisor=redact_uri(self.uri), error=error)

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
            if not await off_loop(self._guest.is_active):
                self._end(Reason.GUEST_STOPPED)
                return
            if self._quiet_reopens >= MAX_QUIET_REOPENS:
                self._end(Reason.CONSOLE_CLOSED, error=error)
                return
            self._quiet_reopens += 1
            try:
                stream = await off_loop(self._guest.open_console, self.device, False)
            except libvirt.libvirtError as failure:
                await self._reopen_failed(failure)
                return
            if self._eof:  # ended meanwhile: the new stream is not wanted
                with contextlib.suppress(libvirt.libvirtError):
                    stream.abort()
                return
            self._reads.attach(stream, self._events)
            log.info("console %s of %s reopened", self.device, self.guest_uuid)
            self._writable.set()
        except (libvirt.libvirtError, LibvirtCallTimeout) as failure:  # no answer at all
            self._unanswered(failure)
        finally:
            self._recovery = None

    async def _reopen_failed(self, failure: libvirt.libvirtError) -> None:
        log.info(
            "console %s of %s not reopened (libvirt error %s): %s",
            self.device, self.guest_uuid, failure.get_error_code(), failure.get_error_message(),
        )  # fmt: skip
        if is_busy(failure):
            self._end(Reason.TAKEN_OVER)
            return
        if not self._guest.lost():
            # A guest being destroyed may fail the reopen before libvirt reports it stopped.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), STOP_EVENT_GRACE)
        self._unanswered(failure)

    def _unanswered(self, failure: libvirt.libvirtError | LibvirtCallTimeout) -> None:
        """A call of recovery failed: the hypervisor is lost if libvirt closed the
        connection (its close callback may come later), else the console just closed."""
        if isinstance(failure, libvirt.libvirtError):
            error = failure.get_error_message()
        else:
            error = str(failure)
        if self._guest.lost():
            self._hypervisor_lost(error)
        else:
            self._end(Reason.CONSOLE_CLOSED, error=error)

    def _end(self, reason: Reason, **params: object) -> None:
        if self.end_reason is None:
            self.end_reason = (reason, params)
        self._eof = True
        self._readable.set()
        self._writable.set()

    # the GuestConsole interface ----------------------------------------------------

    async def read(self) -> bytes:
        while not self._reads.has_output and not self._eof:
            self._readable.clear()
            await self._readable.wait()
        return self._reads.take()

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._eof:
            stream = self._reads.stream
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
        """Until libvirt reports ``stream`` writable (its thread then stops reporting it)."""
        self._writable.clear()
        try:
            self._events.update(stream, write=True)
        except libvirt.libvirtError as error:
            self._stream_failed(error.get_error_message())
            return
        await self._writable.wait()

    def _drop_stream(self) -> None:
        stream = self._reads.detach()
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
        release = self._guest.detach()
        if release is not None and not settled_in_time(release):
            log.warning("libvirt did not let go of console %s in time; leaving", self.device)

    def signal(self, request: SendRequest) -> None:
        """The hypervisor delivered ``request`` to the guest itself; its kernel answers on
        this console, if at all."""
        log.debug("%s sent to the guest; its answer comes through the stream", request.action)
