"""Guest output: read all the time into the ring, taken by each client at its own pace.

One pump reads the guest from the start, whether or not anybody is attached, so the ring
always holds the most recent output (and the capture log, when there is one, every byte).
A client that falls behind the ring's start skips ahead and is told how much it missed.

The writer is held to that rule too unless the guest can wait for it: a simulated guest
makes its output as it is read, so there the writer's cursor holds the pump back (bytes
not yet given to the writer are never dropped; once it is a whole ring behind the pump
stops reading and the guest waits). A libvirt console cannot wait: libvirtd drains the
guest's pty and libvirt's client queues every message whether the stream is read or not,
so a held pump would only move the output into that queue, without bound, and hold the
capture log. Viewers never hold the pump back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from plugin_serialconsole.console.ring import Ring
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.sendkeys import SendRequest


class GuestConsole(Protocol):
    """The guest side of a console process: the simulated console or a libvirt stream."""

    end_reason: tuple[Reason, dict] | None  # why its output ended, once it has
    on_reboot: Callable[[], None] | None  # called when the guest reboots, if it can tell
    waits_for_reader: bool  # output nobody read waits in the guest (does not pile up)

    async def read(self) -> bytes:
        """The next output of the guest; b'' once its console has ended."""

    async def write(self, data: bytes) -> None:
        """Send input to the guest."""

    def close(self) -> None:
        """Release the console."""

    def signal(self, request: SendRequest) -> None:
        """The hypervisor sent the guest ``request`` (SysRq, NMI, ...): a simulated guest
        prints what its kernel would; a real one has done so already."""


class Cursor:
    """One client's position in the guest's output."""

    def __init__(self, fanout: Fanout, offset: int, holds: bool) -> None:
        self._fanout = fanout
        self.offset = offset
        self.holds = holds
        self._wake = asyncio.Event()

    async def take(self, limit: int) -> tuple[int, bytes]:
        """(bytes skipped, up to ``limit`` bytes of output), waiting for output to come;
        the output is b'' once the guest's console has ended and everything was taken."""
        ring = self._fanout.ring
        while self.offset >= ring.end and not self._fanout.ended:
            self._wake.clear()
            await self._wake.wait()
        return self.take_ready(limit)

    def take_ready(self, limit: int | None = None) -> tuple[int, bytes]:
        """Like ``take``, without waiting: what is there now (all of it by default)."""
        ring = self._fanout.ring
        skipped = max(0, ring.start - self.offset)
        data = ring.read(self.offset + skipped, len(ring) if limit is None else limit)
        self.offset += skipped + len(data)
        if self.holds and data:
            self._fanout.made_room()
        return skipped, data

    def wake(self) -> None:
        self._wake.set()


class Fanout:
    """The guest's output in a ring of ``capacity`` bytes and the cursors reading it."""

    def __init__(
        self,
        guest: GuestConsole,
        capacity: int,
        on_output: Callable[[], None] = lambda: None,
        record: Callable[[bytes], None] | None = None,
    ) -> None:
        self.guest = guest
        self._record = record  # also gets every byte read (the capture log)
        self.ring = Ring(capacity)
        self.ended = False
        self._on_output = on_output
        self._cursors: set[Cursor] = set()
        self._holder: Cursor | None = None
        self._room = asyncio.Event()

    def attach(self, holds: bool = False) -> Cursor:
        """A cursor at the ring's start (the recent history first). One that ``holds``
        (the writer's; at most one) holds the pump back while it is a whole ring behind,
        if the guest can wait; else it skips ahead like any other."""
        if holds and self._holder is not None:
            raise ValueError("the output is already held by another cursor")
        holds = holds and self.guest.waits_for_reader
        cursor = Cursor(self, self.ring.start, holds)
        self._cursors.add(cursor)
        if holds:
            self._holder = cursor
        return cursor

    def detach(self, cursor: Cursor) -> None:
        self._cursors.discard(cursor)
        if self._holder is cursor:
            self._holder = None
            self.made_room()

    def made_room(self) -> None:
        self._room.set()

    async def pump(self) -> None:
        """Read the guest until its console ends."""
        try:
            while data := await self.guest.read():
                holder = self._holder
                self.ring.append(data, holder.offset if holder is not None else None)
                if self._record is not None:
                    self._record(data)
                self._on_output()
                for cursor in self._cursors:
                    cursor.wake()
                await self._wait_for_room()
                # A guest that never has to wait (the simulated seq) must not starve the loop.
                await asyncio.sleep(0)
        finally:
            self.ended = True
            for cursor in self._cursors:
                cursor.wake()

    async def _wait_for_room(self) -> None:
        while self._holder is not None and (
            self.ring.end - self._holder.offset >= self.ring.capacity
        ):
            self._room.clear()
            await self._room.wait()
