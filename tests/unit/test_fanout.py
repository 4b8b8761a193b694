"""The guest's output fanned out: the writer holds back a guest that can wait, everybody
else (and the writer of a guest that cannot) skips ahead."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

from plugin_serialconsole import i18n
from plugin_serialconsole.console.clients import Client
from plugin_serialconsole.console.fanout import Fanout
from plugin_serialconsole.console.invitations import Invitation
from plugin_serialconsole.console.protocol import Invite
from plugin_serialconsole.consoles import WRITE

CHUNK = 1000


class EndlessGuest:
    """Output as fast as it is read, numbered chunks of CHUNK bytes; one that does not
    ``wait`` stands for a libvirt console, whose output comes whether it is read or not."""

    end_reason = None

    def __init__(self, chunks: int | None = None, wait: bool = True) -> None:
        self.reads = 0
        self.chunks = chunks
        self.waits_for_reader = wait

    async def read(self) -> bytes:
        if self.chunks is not None and self.reads >= self.chunks:
            return b""
        self.reads += 1
        return bytes([self.reads % 256]) * CHUNK

    async def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


async def settle(rounds: int = 50) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def test_nobody_attached_the_guest_runs_and_the_ring_stays_bounded():
    async def scenario():
        guest = EndlessGuest()
        fanout = Fanout(guest, 5 * CHUNK)
        pump = asyncio.create_task(fanout.pump())
        await settle()
        pump.cancel()
        return guest.reads, len(fanout.ring), fanout.ring.end

    reads, size, end = asyncio.run(scenario())
    assert reads > 10
    assert size == 5 * CHUNK
    assert end == reads * CHUNK


def test_a_writer_that_does_not_read_holds_back_a_guest_that_can_wait():
    async def scenario():
        guest = EndlessGuest()
        fanout = Fanout(guest, 5 * CHUNK)
        writer = fanout.attach(holds=True)
        pump = asyncio.create_task(fanout.pump())
        await settle()
        held = guest.reads, len(fanout.ring)
        skipped, data = await writer.take(2 * CHUNK)
        await settle()
        after = guest.reads
        fanout.detach(writer)
        await settle()
        pump.cancel()
        return held, (skipped, len(data)), after, guest.reads

    (reads, size), taken, after_take, after_detach = asyncio.run(scenario())
    assert reads == 5 and size == 5 * CHUNK  # a whole ring ahead of the writer, then it waits
    assert taken == (0, 2 * CHUNK)
    assert after_take == 7  # room for what the writer took, and no more
    assert after_detach > 20  # no writer: the guest runs free


def test_a_writer_that_does_not_read_skips_ahead_past_a_guest_that_cannot_wait():
    async def scenario():
        guest = EndlessGuest(wait=False)
        recorded: list[bytes] = []
        fanout = Fanout(guest, 5 * CHUNK, record=recorded.append)
        writer = fanout.attach(holds=True)
        pump = asyncio.create_task(fanout.pump())
        await settle()
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        return guest.reads, b"".join(recorded), await writer.take(CHUNK)

    reads, recorded, (skipped, data) = asyncio.run(scenario())
    assert reads > 10  # the pump never waited for the writer
    assert recorded == b"".join(bytes([n % 256]) * CHUNK for n in range(1, reads + 1))
    assert skipped == (reads - 5) * CHUNK  # what the writer missed, counted
    assert data == bytes([(reads - 4) % 256]) * CHUNK  # then the oldest output kept


SKIP_NOTICE = re.compile(rb"\r\n\[serialconsole\] ([^\r\n]*) \(SCONS0113L\)\r\n")


def test_a_stalled_writer_of_a_guest_that_cannot_wait_is_told_in_its_language_what_it_missed():
    chunks = 2000  # 2 MB: far more than the socket, the transport's buffer and the ring hold
    everything = b"".join(bytes([n % 256]) * CHUNK for n in range(1, chunks + 1))

    async def scenario() -> bytes:
        fanout = Fanout(EndlessGuest(chunks=chunks, wait=False), 5 * CHUNK)
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=ours)
        invite = Invite("writer", WRITE, 60.0, language="de_DE")
        client = Client(Invitation(Path("unused"), invite), reader, writer, fanout.attach(True))

        async def on_input(_client: Client, _data: bytes) -> bool:
            return True

        client.start(on_input, lambda _client: None)
        # The guest's whole output goes by while the writer reads nothing.
        await asyncio.wait_for(fanout.pump(), 10)
        theirs.setblocking(False)
        received = bytearray()
        async with asyncio.timeout(10):
            while not received.endswith(everything[-CHUNK:]):
                received += await asyncio.get_running_loop().sock_recv(theirs, 65536)
        client.stop()
        writer.close()
        theirs.close()
        return bytes(received)

    received = asyncio.run(scenario())
    (notice,) = SKIP_NOTICE.finditer(received)
    before, after = received[: notice.start()], received[notice.end() :]
    skipped = len(everything) - len(before) - len(after)
    assert everything.startswith(before) and everything.endswith(after)
    assert skipped > 0 and notice.group(1).decode() == i18n.translate(
        i18n.OUTPUT_SKIPPED, {"bytes": skipped}, "de_DE"
    )


def test_a_late_reader_gets_the_history_first():
    async def scenario():
        fanout = Fanout(EndlessGuest(chunks=3), 10 * CHUNK)
        await fanout.pump()
        viewer = fanout.attach()
        return [await viewer.take(10 * CHUNK) for _ in range(2)]

    first, second = asyncio.run(scenario())
    assert first == (0, b"\x01" * CHUNK + b"\x02" * CHUNK + b"\x03" * CHUNK)
    assert second == (0, b"")  # the guest's output ended


def test_a_viewer_behind_the_ring_skips_ahead_and_never_holds_the_guest():
    async def scenario():
        guest = EndlessGuest()
        fanout = Fanout(guest, 3 * CHUNK)
        viewer = fanout.attach()
        pump = asyncio.create_task(fanout.pump())
        await settle()
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        return guest.reads, fanout.ring.start, await viewer.take(CHUNK)

    reads, start, (skipped, data) = asyncio.run(scenario())
    assert reads > 10
    assert skipped == start == (reads - 3) * CHUNK
    assert data == bytes([(reads - 2) % 256]) * CHUNK


def test_only_one_cursor_holds():
    async def scenario():
        fanout = Fanout(EndlessGuest(), CHUNK)
        fanout.attach(holds=True)
        try:
            fanout.attach(holds=True)
        except ValueError:
            return True
        return False

    assert asyncio.run(scenario())
