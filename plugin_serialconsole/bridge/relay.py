"""One console connection after its handshake: the browser's WebSocket <-> the console's
Unix socket, served by the proxy's event loop (``accept``) among all the others.

Both sockets are non-blocking; websockify's ``WebSocket`` frames the browser's side and says
when it must wait (``WebSocketWantReadError``/``WebSocketWantWriteError``). At most one chunk
is held in each direction: console output is read only once the previous chunk has gone out
to the browser, browser input only once the previous input reached the console, so a slow
peer slows the other side down instead of filling the proxy's memory.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
from typing import TYPE_CHECKING

from websockify.websocket import WebSocketWantReadError, WebSocketWantWriteError

from plugin_serialconsole import i18n
from plugin_serialconsole.bridge import refusals

if TYPE_CHECKING:
    from plugin_serialconsole.bridge.handler import BoundedWebSocket

log = logging.getLogger(__name__)

# How long a closing connection may take to hand over what it still holds.
FLUSH_TIMEOUT = 5.0
NORMAL_CLOSE = 1000
INTERNAL_ERROR_CLOSE = 1011
READ = select.EPOLLIN
WRITE = select.EPOLLOUT


class Relay:
    """Relays between ``ws`` (the browser) and ``target`` (the console) on readiness events."""

    def __init__(
        self,
        ws: BoundedWebSocket,
        target: socket.socket,
        language: str,
        name: str,
        chunk: int,
    ) -> None:
        self.ws = ws
        self.client = ws.socket  # the raw socket: ``ws`` forgets it once it closes it
        self.target = target
        self.language = language
        self.name = name  # the console socket, for the log
        self.chunk = chunk
        self.to_target = bytearray()
        self.fds = (self.client.fileno(), target.fileno())  # kept once they are closed
        self.deadline: float | None = None  # set once closing: when to give up flushing
        self.ended = False
        ws.request_handler = None  # the handshake's handler and its request are done with
        self.client.setblocking(False)
        target.setblocking(False)

    @property
    def closing(self) -> bool:
        return self.deadline is not None

    def interest(self) -> tuple[int, int]:
        """The events to wait for: (on the browser's socket, on the console's)."""
        client_busy = self.ws.pending_output()
        client = WRITE if client_busy else 0
        target = WRITE if self.to_target else 0
        if not self.closing:
            client |= 0 if self.to_target else READ
            target |= 0 if client_busy else READ
        return client, target

    def done(self) -> bool:
        """Whether nothing is left to do (both sockets are closed then)."""
        if self.ended:
            return True
        if not self.closing:
            return False
        flushed = not self.to_target and not self.ws.pending_output()
        if flushed or time.monotonic() >= self.deadline:
            self.abort()
            return True
        return False

    def on_client(self, events: int) -> None:
        if events & WRITE:
            self.ws.flush()
        if events & (READ | select.EPOLLHUP | select.EPOLLERR) and not self.to_target:
            self._from_client()

    def on_target(self, events: int) -> None:
        if events & WRITE and self.to_target:
            self._to_target()
        readable = events & (READ | select.EPOLLHUP | select.EPOLLERR)
        if readable and not self.closing and not self.ws.pending_output():
            self._from_target()

    def _from_client(self) -> None:
        while True:
            try:
                message = self.ws.recvmsg()
            except WebSocketWantReadError:
                break
            except WebSocketWantWriteError:  # a pong or close is queued: sent once writable
                if self.ws.peer_closed():
                    self._closed_by_client()
                break
            if message is None:
                self._closed_by_client()
                break
            if not self.closing:
                self.to_target += message
            if not self.ws.pending():
                break
        if self.to_target:
            self._to_target()

    def _closed_by_client(self) -> None:
        code, reason = self.ws.close_code, self.ws.close_reason
        self.close(code if code is not None else NORMAL_CLOSE, reason or "")

    def _to_target(self) -> None:
        try:
            del self.to_target[: self.target.send(self.to_target)]
        except BlockingIOError:
            pass
        except OSError:
            self.to_target.clear()  # the console is gone: its socket says so next
            if self.closing:
                return
            raise

    def _from_target(self) -> None:
        try:
            data = self.target.recv(self.chunk)
        except BlockingIOError:
            return
        if not data:
            self.close(NORMAL_CLOSE, "Target closed")
            return
        with contextlib.suppress(WebSocketWantWriteError):  # queued, sent when writable
            self.ws.sendmsg(data)

    def close(self, code: int, reason: str) -> None:
        """Start the end: tell the browser ``code`` and ``reason`` (queued after what is
        queued), hand the console the browser's last input, within ``FLUSH_TIMEOUT``."""
        if self.closing:
            return
        self.deadline = time.monotonic() + FLUSH_TIMEOUT
        if self.client.fileno() == -1:
            return
        with contextlib.suppress(WebSocketWantWriteError, OSError):
            self.ws.shutdown(socket.SHUT_RDWR, code, reason)

    def fail(self, error: BaseException) -> None:
        """End after an unexpected error in this connection's code, telling the browser."""
        if isinstance(error, OSError):
            log.info("console connection to %s ended: %s", self.name, error)
            self.abort()
            return
        log.error("%s: relay to %s failed", i18n.CONSOLE_RELAY_FAILED, self.name, exc_info=error)
        reason = refusals.close_reason(i18n.CONSOLE_RELAY_FAILED, {"error": error}, self.language)
        with contextlib.suppress(Exception):  # best effort: this connection is broken
            self.close(INTERNAL_ERROR_CLOSE, reason)
            self.ws.flush()
        self.abort()

    def abort(self) -> None:
        """Close both sockets now."""
        self.ended = True
        self.deadline = self.deadline or time.monotonic()
        with contextlib.suppress(OSError):
            self.target.shutdown(socket.SHUT_RDWR)
        self.target.close()
        self.client.close()
