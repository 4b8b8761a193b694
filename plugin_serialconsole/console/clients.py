"""One client of a console process: its socket, mode, place in the output and two tasks.

Output goes out at the client's own pace (``Cursor``); what the client types is handed
to the server (``server.ConsoleServer``), which decides what a writer's and a viewer's input do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from plugin_serialconsole import i18n
from plugin_serialconsole.console.fanout import Cursor
from plugin_serialconsole.console.invitations import Invitation

CHUNK = 64 * 1024
WRITE_HIGH_WATER = 256 * 1024
FINAL_LINE_TIMEOUT = 2.0


def notice(code: str, params: dict, language: str) -> bytes:
    """A line from the console itself, e.g. why it ended."""
    text = i18n.translate(code, params, language)
    return f"\r\n[serialconsole] {text} ({code})\r\n".encode()


class Client:
    """A connection that came in through ``invitation``."""

    def __init__(
        self,
        invitation: Invitation,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        cursor: Cursor,
    ) -> None:
        self.name = invitation.name
        self.mode = invitation.mode
        self.language = invitation.invite.language
        self.escape = invitation.invite.escape
        self.session = invitation.invite.session
        self.reader = reader
        self.writer = writer
        self.cursor = cursor
        self.gone = False
        self._tasks: list[asyncio.Task] = []

    def start(
        self,
        on_input: Callable[[Client, bytes], Awaitable[bool]],
        on_gone: Callable[[Client], None],
    ) -> None:
        """Relay both ways; ``on_input`` answers False to stop reading, ``on_gone`` hears
        of a client that went away."""
        self.writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._tasks = [
            asyncio.create_task(self._send_output(on_gone)),
            asyncio.create_task(self._read_input(on_input, on_gone)),
        ]

    async def _send_output(self, on_gone: Callable[[Client], None]) -> None:
        try:
            while True:
                skipped, data = await self.cursor.take(CHUNK)
                if skipped:
                    self.writer.write(
                        notice(i18n.OUTPUT_SKIPPED, {"bytes": skipped}, self.language)
                    )
                if not data:
                    return  # the guest's console ended; the server says why
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            on_gone(self)

    async def _read_input(
        self,
        on_input: Callable[[Client, bytes], Awaitable[bool]],
        on_gone: Callable[[Client], None],
    ) -> None:
        try:
            while data := await self.reader.read(CHUNK):
                if not await on_input(self, data):
                    return
        except (ConnectionError, OSError):
            pass
        on_gone(self)

    def stop(self) -> None:
        """Stop relaying (from inside one of its own tasks too)."""
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    def hang_up(self, code: str | None = None, params: dict | None = None) -> None:
        """Stop and close, after a last line saying why when ``code`` is given."""
        self.gone = True
        self.stop()
        if code is not None and not self.writer.is_closing():
            self.writer.write(notice(code, params or {}, self.language))
        self.writer.close()  # the transport still sends what it holds, then closes

    async def finish(self, code: str, params: dict) -> None:
        """The console ends: the output the client has not had yet, the last line, close."""
        self.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            if not self.writer.is_closing():
                skipped, rest = self.cursor.take_ready()
                if skipped:
                    self.writer.write(
                        notice(i18n.OUTPUT_SKIPPED, {"bytes": skipped}, self.language)
                    )
                self.writer.write(rest + notice(code, params, self.language))
                await asyncio.wait_for(self.writer.drain(), FINAL_LINE_TIMEOUT)
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), FINAL_LINE_TIMEOUT)
