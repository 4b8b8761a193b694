"""One console session: a Unix socket, exactly one client, bytes relayed both ways.

The session ends on the first of: client close, Ctrl+Q from the client, idle timeout, no
client within the accept timeout, the guest console ending, a ``stop`` from the host, end
of file from the host, SIGTERM. The client is told why in a final line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from plugin_serialconsole import i18n
from plugin_serialconsole.console import protocol

log = logging.getLogger(__name__)

CTRL_Q = b"\x11"
CHUNK = 64 * 1024
WRITE_HIGH_WATER = 256 * 1024
FINAL_LINE_TIMEOUT = 2.0
CLIENT_CLOSED = "SCONS0101L"
CTRL_Q_PRESSED = "SCONS0102L"
IDLE = "SCONS0103L"
HOST_STOPPED = "SCONS0105L"
NOBODY_CAME = "SCONS0108L"
GUEST_CLOSED = "SCONS0109L"


class GuestConsole(Protocol):
    """The guest side of a session: the simulated console or a libvirt stream."""

    end_reason: tuple[str, dict] | None

    async def read(self) -> bytes:
        """The next output of the guest; b'' once its console has ended."""

    async def write(self, data: bytes) -> None:
        """Send input to the guest."""

    def close(self) -> None:
        """Release the console."""


def listen_unix(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600 from the moment it exists."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    sock.listen(1)
    return sock


def final_line(code: str, params: dict, language: str) -> bytes:
    text = i18n.translate(code, params, language)
    return f"\r\n[serialconsole] {text} ({code})\r\n".encode()


class ConsoleSession:
    """Serves one guest console on one Unix socket to one client."""

    def __init__(
        self,
        guest: GuestConsole,
        socket_path: Path,
        report: Callable[[bytes], None],
        idle_timeout: float,
        accept_timeout: float,
        language: str = i18n.DEFAULT_LANGUAGE,
    ) -> None:
        self.guest = guest
        self.socket_path = socket_path
        self.report = report
        self.idle_timeout = idle_timeout
        self.accept_timeout = accept_timeout
        self.language = language
        self._finished: asyncio.Future[tuple[str, dict]] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pumps: list[asyncio.Task] = []
        self._last_activity = 0.0

    def finish(self, code: str, **params: object) -> None:
        """End the session for the reason ``code``; the first reason wins."""
        if self._finished is not None and not self._finished.done():
            self._finished.set_result((code, params))

    async def run(self, listening: socket.socket) -> tuple[str, dict]:
        loop = asyncio.get_running_loop()
        self._finished = loop.create_future()
        server = await asyncio.start_unix_server(self._on_client, sock=listening)
        self.report(protocol.encode(protocol.READY))
        accept_timer = loop.call_later(
            self.accept_timeout, self._nobody_came, f"{self.accept_timeout:g}"
        )
        try:
            code, params = await self._finished
        finally:
            accept_timer.cancel()
            server.close()
            self.socket_path.unlink(missing_ok=True)
        await self._close_client(code, params)
        self.guest.close()
        self.report(protocol.encode(protocol.ENDED, code=code, params=params))
        return code, params

    def _nobody_came(self, seconds: str) -> None:
        if self._writer is None:
            self.finish(NOBODY_CAME, seconds=seconds)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._writer is not None or self._finished.done():
            writer.close()
            return
        self._writer = writer
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.socket_path.unlink(missing_ok=True)  # exactly one client: nobody else can connect
        self.report(protocol.encode(protocol.CONNECTED))
        self._touch()
        self._pumps = [
            asyncio.create_task(self._guest_to_client(writer)),
            asyncio.create_task(self._client_to_guest(reader)),
        ]
        if self.idle_timeout > 0:
            self._pumps.append(asyncio.create_task(self._watch_idle()))

    def _touch(self) -> None:
        self._last_activity = asyncio.get_running_loop().time()

    async def _guest_to_client(self, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await self.guest.read():
                writer.write(data)
                self._touch()
                await writer.drain()
        except (ConnectionError, OSError):
            self.finish(CLIENT_CLOSED)
            return
        code, params = self.guest.end_reason or (GUEST_CLOSED, {"error": "end of output"})
        self.finish(code, **params)

    async def _client_to_guest(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(CHUNK):
                self._touch()
                quit_at = data.find(CTRL_Q)
                if quit_at >= 0:
                    if quit_at:
                        await self.guest.write(data[:quit_at])
                    self.finish(CTRL_Q_PRESSED)
                    return
                await self.guest.write(data)
        except (ConnectionError, OSError):
            pass
        self.finish(CLIENT_CLOSED)

    async def _watch_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            remaining = self._last_activity + self.idle_timeout - loop.time()
            if remaining <= 0:
                self.finish(IDLE, seconds=f"{self.idle_timeout:g}")
                return
            await asyncio.sleep(remaining)

    async def _close_client(self, code: str, params: dict) -> None:
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        writer = self._writer
        if writer is None:
            return
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            if code != CLIENT_CLOSED and not writer.is_closing():
                writer.write(final_line(code, params, self.language))
                await asyncio.wait_for(writer.drain(), FINAL_LINE_TIMEOUT)
        writer.close()
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), FINAL_LINE_TIMEOUT)
