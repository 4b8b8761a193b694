"""A console process's libvirt connection, faked: what ``LibvirtConsole`` asks of it, and
what the tests ask of it (its keepalive, libvirt closing it)."""

from __future__ import annotations

import threading
from typing import Any

import libvirt

TIMEOUT = 5.0


class FakeStream:
    """A stream that never has output (tests that need some bring their own)."""

    def eventAddCallback(self, events, callback, opaque) -> None:  # noqa: N802 (libvirt's names)
        pass

    def eventUpdateCallback(self, events) -> None:  # noqa: N802
        pass

    def eventRemoveCallback(self) -> None:  # noqa: N802
        pass

    def abort(self) -> None:
        pass


class FakeDomain:
    """A running guest whose ``isActive`` fails once the connection is gone."""

    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    def openConsole(self, device, stream, flags) -> None:  # noqa: N802
        pass

    def isActive(self) -> int:  # noqa: N802
        if not self.conn.alive:
            raise libvirt.libvirtError("internal error: client socket is closed")
        return 1


class FakeConnection:
    """The connection to guest ``uuid``; its streams are ``stream`` (else ``FakeStream``s)."""

    def __init__(self, uuid: str, stream: Any = None) -> None:
        self.uuid = uuid
        self.stream = stream
        self.alive = True
        self.keepalive: tuple[int, int] | None = None
        self.on_close = None

    def setKeepAlive(self, interval: int, count: int) -> int:  # noqa: N802
        self.keepalive = (interval, count)
        return 0

    def lookupByUUIDString(self, uuid: str) -> FakeDomain:  # noqa: N802
        assert uuid == self.uuid
        return FakeDomain(self)

    def registerCloseCallback(self, callback, opaque) -> int:  # noqa: N802
        self.on_close = callback
        return 0

    def unregisterCloseCallback(self) -> int:  # noqa: N802
        return 0

    def domainEventRegisterAny(self, domain, event, callback, opaque) -> int:  # noqa: N802
        return event

    def domainEventDeregisterAny(self, callback_id: int) -> int:  # noqa: N802
        return 0

    def newStream(self, flags: int) -> Any:  # noqa: N802
        return self.stream if self.stream is not None else FakeStream()

    def isAlive(self) -> int:  # noqa: N802
        return int(self.alive)

    def close(self) -> int:
        return 0

    def closed_by_libvirt(self, reason: int) -> None:
        """libvirt closes the connection (keepalive, EOF...): on its own event thread."""
        self.alive = False
        thread = threading.Thread(target=self.on_close, args=(self, reason, None))
        thread.start()
        thread.join(TIMEOUT)
