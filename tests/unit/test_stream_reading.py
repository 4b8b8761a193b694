"""When a real console reads its libvirt stream: output that streams is read in batches,
after a hold, straight from the loop; libvirt's thread is asked for READABLE again only once
output pauses, or once a client a HIGH_WATER behind has caught up. libvirt is faked here."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from plugin_serialconsole.console import libvirt_stream, stream_reader
from plugin_serialconsole.console.libvirt_events import READABLE, StreamEvents
from plugin_serialconsole.console.libvirt_stream import LibvirtConsole
from plugin_serialconsole.console.pacing import STREAM_BYTES
from plugin_serialconsole.console.stream_reader import HIGH_WATER, StreamReader

from .libvirt_fakes import FakeConnection

TIMEOUT = 5.0
UUID = "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000002"
BURST = b"x" * (2 * STREAM_BYTES)  # more than an interactive answer: output streams


class QueuedStream:
    """A non-blocking libvirt stream holding what the guest wrote; like libvirt, it reports
    READABLE (on its own thread) while READABLE is asked for and output waits."""

    def __init__(self) -> None:
        self.queued: deque[bytes] = deque()
        self.callback = None
        self.mask = 0
        self.asked_readable = 0  # times the console asked for READABLE again
        self.asked = asyncio.Event()
        self.read = asyncio.Event()  # recv was called
        self.loop = asyncio.get_running_loop()

    def put(self, *messages: bytes) -> None:
        self.queued.extend(messages)
        self._report()

    def _report(self) -> None:
        if self.mask & READABLE and self.queued:
            self.loop.call_soon(self.callback, self, READABLE, None)

    def eventAddCallback(self, mask, callback, opaque) -> None:  # noqa: N802 (libvirt's names)
        self.callback, self.mask = callback, mask

    def eventUpdateCallback(self, mask) -> None:  # noqa: N802
        if mask & READABLE and not self.mask & READABLE:
            self.asked_readable += 1
            self.asked.set()
        self.mask = mask
        self._report()

    def eventRemoveCallback(self) -> None:  # noqa: N802
        self.callback = None

    def recv(self, size: int):
        self.read.set()
        if not self.queued:
            return -2
        data = self.queued.popleft()
        if len(data) > size:
            self.queued.appendleft(data[size:])
        return data[:size]

    def abort(self) -> None:
        pass


def opened(stream: QueuedStream) -> LibvirtConsole:
    console = LibvirtConsole(
        "qemu:///system", UUID, "serial0", opener=lambda _uri: FakeConnection(UUID, stream)
    )
    console.open()
    return console


async def read_bytes(console: LibvirtConsole, count: int) -> bytes:
    data = b""
    async with asyncio.timeout(TIMEOUT):
        while len(data) < count:
            data += await console.read()
    return data


def test_streamed_output_is_read_after_each_hold_without_asking_libvirt_again():
    async def scenario() -> None:
        stream = QueuedStream()
        console = opened(stream)
        try:
            stream.put(BURST)
            assert await read_bytes(console, len(BURST)) == BURST
            for n in range(3):  # the guest goes on printing while the console holds
                stream.put(b"%d" % n * len(BURST))
                assert await read_bytes(console, len(BURST)) == b"%d" % n * len(BURST)
            assert stream.asked_readable == 0
            # Output pauses: the read after the hold finds nothing, READABLE is asked for.
            stream.asked.clear()
            async with asyncio.timeout(TIMEOUT):
                await stream.asked.wait()
            assert stream.asked_readable == 1
            stream.put(b"$ ")  # and what comes next is read as it comes
            assert await read_bytes(console, 2) == b"$ "
        finally:
            console.close()

    asyncio.run(scenario())


def test_reading_stops_a_high_water_behind_and_goes_on_once_the_client_caught_up(monkeypatch):
    monkeypatch.setattr(stream_reader, "CHUNK", 1024)

    async def scenario() -> None:
        stream = QueuedStream()
        console = opened(stream)
        try:
            stream.put(*[b"y" * 1024] * (HIGH_WATER // 1024 + 8))
            async with asyncio.timeout(TIMEOUT):
                await stream.read.wait()  # the console read what it takes at once
            assert len(stream.queued) == 8  # HIGH_WATER read, the rest left with libvirt
            stream.asked.clear()
            data = await read_bytes(console, HIGH_WATER // 2 + 1024)
            async with asyncio.timeout(TIMEOUT):
                await stream.asked.wait()  # caught up: libvirt is asked for output again
            data += await read_bytes(console, HIGH_WATER // 2 + 7 * 1024)
            assert data == b"y" * (HIGH_WATER + 8 * 1024)
        finally:
            console.close()

    asyncio.run(scenario())


def test_a_late_report_about_a_replaced_stream_leaves_the_reading_of_the_new_one_alone():
    async def scenario() -> None:
        old, new = QueuedStream(), QueuedStream()
        came = asyncio.Event()
        reader = StreamReader(came.set, lambda error: None)
        ignore = lambda _stream: None  # noqa: E731
        events = StreamEvents(asyncio.get_running_loop(), reader.drain, ignore, ignore)
        reader.attach(old, events)
        reader.detach()
        reader.attach(new, events)
        new.put(BURST)  # streams: the next read is held
        async with asyncio.timeout(TIMEOUT):
            await came.wait()
        assert reader.take() == BURST
        reader.drain(old)  # libvirt's READABLE about the old stream, handed over late
        came.clear()
        new.put(b"z" * 10)
        async with asyncio.timeout(TIMEOUT):
            await came.wait()  # read after the hold all the same
        assert reader.take() == b"z" * 10

    asyncio.run(scenario())


def test_output_read_just_before_the_stream_ends_reaches_the_client():
    """Bytes read in the same drain as the end were left in the buffer unannounced: the
    client's reader slept on until the reopened stream brought more."""

    async def scenario() -> None:
        stream = QueuedStream()
        came = asyncio.Event()
        failures: list[str] = []
        reader = StreamReader(came.set, failures.append)
        ignore = lambda _stream: None  # noqa: E731
        events = StreamEvents(asyncio.get_running_loop(), reader.drain, ignore, ignore)
        reader.attach(stream, events)
        stream.put(b"last words\r\n", b"")  # b"": libvirt's end of stream
        async with asyncio.timeout(TIMEOUT):
            await came.wait()
        assert failures == ["end of stream"]
        assert reader.take() == b"last words\r\n"

    asyncio.run(scenario())


@pytest.fixture(autouse=True)
def _no_event_thread(monkeypatch):
    """The fake stream reports its events itself: no libvirt event loop is needed."""
    monkeypatch.setattr(libvirt_stream, "start_event_thread", lambda: None)
