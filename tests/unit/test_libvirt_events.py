"""Stream events from libvirt's thread: each masked on the way to the asyncio loop."""

from __future__ import annotations

import asyncio
import threading

import libvirt
import pytest

from plugin_serialconsole.console.libvirt_events import FAILED, READABLE, WRITABLE, StreamEvents


class FakeStream:
    """Records the event masks libvirt would be given."""

    def __init__(self) -> None:
        self.masks: list[int] = []
        self.callback = None
        self.gone = False

    def eventAddCallback(self, mask, callback, opaque):  # noqa: N802 (libvirt's name)
        self.masks.append(mask)
        self.callback = callback

    def eventUpdateCallback(self, mask):  # noqa: N802
        if self.gone:
            raise libvirt.libvirtError("stream is gone")
        self.masks.append(mask)


def run_events(*fired: int, read: bool = True) -> tuple[FakeStream, list[tuple[str, object]]]:
    """Attach a fake stream, fire ``fired`` from another thread; what reached the loop."""
    stream = FakeStream()
    seen: list[tuple[str, object]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        events = StreamEvents(
            loop,
            lambda s: seen.append(("readable", s)),
            lambda s: seen.append(("writable", s)),
            lambda s: seen.append(("failed", s)),
        )
        events.attach(stream, read=read)
        thread = threading.Thread(target=lambda: [stream.callback(stream, e, None) for e in fired])
        thread.start()
        await asyncio.to_thread(thread.join)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    return stream, seen


def test_attach_reports_readable_only_when_reading():
    assert run_events()[0].masks == [FAILED | READABLE]
    assert run_events(read=False)[0].masks == [FAILED]


def test_readable_is_masked_and_handed_to_the_loop():
    stream, seen = run_events(READABLE)
    assert stream.masks[-1] == FAILED
    assert seen == [("readable", stream)]


def test_writable_is_masked_and_reading_goes_on():
    stream, seen = run_events(WRITABLE)
    assert stream.masks[-1] == FAILED | READABLE
    assert seen == [("writable", stream)]


def test_a_failure_is_reported_once_and_masks_everything():
    stream, seen = run_events(libvirt.VIR_STREAM_EVENT_HANGUP)
    assert stream.masks[-1] == 0
    assert seen == [("failed", stream)]


def test_update_asks_again_and_raises_when_the_stream_is_gone():
    stream = FakeStream()

    async def scenario() -> None:
        events = StreamEvents(asyncio.get_running_loop(), print, print, print)
        events.attach(stream, read=False)
        events.update(stream, read=True, write=True)
        stream.gone = True
        with pytest.raises(libvirt.libvirtError):
            events.update(stream, read=False)

    asyncio.run(scenario())
    assert stream.masks == [FAILED, FAILED | READABLE | WRITABLE]
