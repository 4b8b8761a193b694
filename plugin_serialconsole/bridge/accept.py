"""The proxy's event loop: every connection, from its first byte to its close, in one process.

Stock websockify forks a handler process for every TCP connection the moment it is
accepted. Here a connection costs one socket while it waits for its request head
(edge-triggered, peeked, never read, so websockify's request handler parses it as it always
does). It gets ``handshake_timeout`` seconds; past ``max_waiting`` waiting connections the
oldest goes. A complete head is handed to ``serve`` (websockify's request handler: the
Origin and token checks, the upgrade) if fewer than ``max_handlers`` connections are
served, else it gets a 503. An upgraded connection becomes a ``Relay`` this loop serves
until either side closes; an error in one connection's code ends that connection only.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import select
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from plugin_serialconsole import i18n
from plugin_serialconsole.bridge import refusals
from plugin_serialconsole.bridge.fdbudget import max_handlers, max_waiting
from plugin_serialconsole.bridge.relay import Relay
from plugin_serialconsole.bridge.reports import BUSY, ReportWriter, head_forwarding

log = logging.getLogger(__name__)

# The end of an HTTP request head; lines may end with a bare LF, as http.server accepts.
HEAD_END = re.compile(rb"\r?\n\r?\n")
MAX_HEAD = refusals.MAX_HEAD
# When the loop ends, connections to consoles that are ending too get this long to relay
# their last words; it stays within the runner's wait for the proxy.
HANDLER_GRACE = 2.0
# A handshake is answered while the loop waits: its head is all there, and its answer
# fits the socket's buffer; this bounds a client that would still stall it.
HANDSHAKE_IO_TIMEOUT = 1.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
WAITING_EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET

Address = tuple
Serve = Callable[[socket.socket, Address], "Relay | None"]


@dataclass(frozen=True)
class HandlerLimits:
    """How many connections are served at once, and how long a handshake may take."""

    max_handlers: int
    handshake_timeout: float


@dataclass(frozen=True)
class Waiting:
    sock: socket.socket
    address: Address
    deadline: float


class AcceptLoop:
    """Serves ``listener`` until SIGTERM/SIGINT or end of file on ``lifeline``."""

    def __init__(
        self,
        listener: socket.socket,
        lifeline: int,
        serve: Serve,
        limits: HandlerLimits,
        reports: ReportWriter | None = None,
    ) -> None:
        self.listener = listener
        self.lifeline = lifeline
        self.serve = serve
        self.limits = limits
        self.reports = reports or ReportWriter()
        self.max_waiting = max_waiting()
        self.max_handlers = max_handlers(limits.max_handlers, self.max_waiting)
        self.waiting: dict[int, Waiting] = {}  # by fd, oldest first
        self.relays: dict[int, Relay] = {}  # by the fd of either of its sockets
        self.watched: dict[int, int] = {}  # the events each relay socket is polled for
        self.closing: set[Relay] = set()
        self.served = 0  # relays
        self.refused = 0
        self._poll = select.epoll()
        self._wakeup_r, self._wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def run(self) -> None:
        self.listener.setblocking(False)
        self._poll.register(self.listener, select.EPOLLIN)
        self._poll.register(self.lifeline, select.EPOLLIN)
        self._poll.register(self._wakeup_r, select.EPOLLIN)
        previous = {number: signal.signal(number, _note_signal) for number in STOP_SIGNALS}
        previous_wakeup = signal.set_wakeup_fd(self._wakeup_w)
        try:
            while self._step():
                pass
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for number, handler in previous.items():
                signal.signal(number, handler)
            self.close()

    def _step(self, until: float | None = None) -> bool:
        """Wait for one batch of events (no later than ``until``) and handle it; False
        once asked to stop."""
        for fd, events in self._poll.poll(self._timeout(until)):
            if fd == self._wakeup_r:
                os.read(self._wakeup_r, 64)
                log.info("asked to stop")
                return False
            if fd == self.lifeline and not os.read(self.lifeline, 1024):
                log.info("the host is gone; stopping")
                return False
            if fd in self.relays:
                self._relay(self.relays[fd], fd, events)
            elif fd == self.listener.fileno():
                self._accept()
            elif fd in self.waiting:
                self._check(self.waiting[fd], events)
        self._expire(time.monotonic())
        for relay in list(self.closing):
            self._settle(relay)
        return True

    def _timeout(self, until: float | None) -> float:
        deadlines = [relay.deadline for relay in self.closing]
        if self.waiting:
            deadlines.append(next(iter(self.waiting.values())).deadline)
        if until is not None:
            deadlines.append(until)
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else -1.0

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno not in (errno.EMFILE, errno.ENFILE) or not self.waiting:
                    raise
                self._drop(next(iter(self.waiting)))
                continue
            if len(self.waiting) >= self.max_waiting:
                self._drop(next(iter(self.waiting)))
            sock.setblocking(False)
            deadline = time.monotonic() + self.limits.handshake_timeout
            self.waiting[sock.fileno()] = Waiting(sock, address, deadline)
            self._poll.register(sock, WAITING_EVENTS)

    def _check(self, waiting: Waiting, events: int) -> None:
        try:
            head = waiting.sock.recv(MAX_HEAD, socket.MSG_PEEK)
        except BlockingIOError:
            return  # an event for an earlier socket with the same number
        except OSError:
            head = b""
        if HEAD_END.search(head):
            self._forget(waiting)
            self._dispatch(waiting)
        elif len(head) >= MAX_HEAD:
            self._forget(waiting)
            refusals.refuse(
                waiting.sock,
                "431 Request Header Fields Too Large",
                i18n.HEADER_TOO_LARGE,
                limit=MAX_HEAD,
            )
        elif not head or events & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
            self._drop(waiting.sock.fileno())  # gone, or done sending without a request

    def _dispatch(self, waiting: Waiting) -> None:
        if self.served >= self.max_handlers:
            if not self.refused:
                log.warning(
                    "%s WebSocket connections served, the most allowed (max_ws_handlers); "
                    "refusing new connections with 503 %s",
                    self.served, i18n.WS_HANDLERS_BUSY,
                )  # fmt: skip
            self.refused += 1
            head = refusals.refuse(
                waiting.sock,
                "503 Service Unavailable",
                i18n.WS_HANDLERS_BUSY,
                limit=self.served,
            )
            peer, forwarded = waiting.address[0], head_forwarding(head)
            self.reports.refused(BUSY, 503, i18n.WS_HANDLERS_BUSY, peer, forwarded)
            return
        waiting.sock.settimeout(HANDSHAKE_IO_TIMEOUT)
        try:
            relay = self.serve(waiting.sock, waiting.address)
        except Exception as error:  # noqa: BLE001 (one connection's failure; the loop serves on)
            log.exception("%s: %s: handshake failed", i18n.WS_HANDSHAKE_FAILED, waiting.address[0])
            status = "500 Internal Server Error"
            refusals.refuse(waiting.sock, status, i18n.WS_HANDSHAKE_FAILED, error=error)
            return
        if relay is None:
            waiting.sock.close()
            return
        self.served += 1
        for fd in relay.fds:
            self.relays[fd] = relay
        self._settle(relay)

    def _relay(self, relay: Relay, fd: int, events: int) -> None:
        client_fd, target_fd = relay.fds
        try:
            if fd == target_fd and relay.target.fileno() != -1:
                relay.on_target(events)
            elif fd == client_fd and relay.client.fileno() != -1:
                relay.on_client(events)
        except Exception as error:  # noqa: BLE001 (ends this connection only, logged)
            relay.fail(error)
        self._settle(relay)

    def _settle(self, relay: Relay) -> None:
        """Poll ``relay``'s sockets for what it waits for now, or forget it once done."""
        if not relay.done():
            self._watch(relay)
            if relay.closing:
                self.closing.add(relay)
            return
        for fd in relay.fds:  # closed: the kernel dropped them from the epoll set
            del self.relays[fd]
            self.watched.pop(fd, None)
        self.closing.discard(relay)
        self.served -= 1
        if self.refused and self.served < self.max_handlers:
            log.warning("refused %s WebSocket connections while at max_ws_handlers", self.refused)
            self.refused = 0

    def _watch(self, relay: Relay) -> None:
        socks = (relay.client, relay.target)
        for fd, sock, events in zip(relay.fds, socks, relay.interest(), strict=True):
            if sock.fileno() == -1:  # closed: the kernel dropped it from the epoll set
                self.watched.pop(fd, None)
                continue
            now = self.watched.get(fd, 0)
            if events == now:
                continue
            if not events:  # unwatched, not polled for nothing: hang-ups are always reported
                self._poll.unregister(fd)
                del self.watched[fd]
            elif now:
                self._poll.modify(fd, events)
            else:
                self._poll.register(fd, events)
            if events:
                self.watched[fd] = events

    def _expire(self, now: float) -> None:
        while self.waiting:
            fd, oldest = next(iter(self.waiting.items()))
            if oldest.deadline > now:
                return
            log.debug("%s: no complete handshake in time; closed", oldest.address[0])
            self._forget(oldest)
            refusals.refuse(
                oldest.sock,
                "408 Request Timeout",
                i18n.REQUEST_TIMEOUT,
                seconds=self.limits.handshake_timeout,
            )

    def _forget(self, waiting: Waiting) -> None:
        self._poll.unregister(waiting.sock)
        del self.waiting[waiting.sock.fileno()]

    def _drop(self, fd: int) -> None:
        waiting = self.waiting[fd]
        self._forget(waiting)
        waiting.sock.close()

    def close(self) -> None:
        """Close every connection this loop holds.

        Relays get a moment first: when the host stops or dies, its consoles end too and
        send a last line saying why, which is relayed before the connection closes.
        """
        for fd in (self.listener.fileno(), self.lifeline, self._wakeup_r):
            self._poll.unregister(fd)
        self.listener.close()
        for waiting in list(self.waiting.values()):
            self._drop(waiting.sock.fileno())
        deadline = time.monotonic() + HANDLER_GRACE
        while self.relays and time.monotonic() < deadline:
            self._step(deadline)
        for relay in set(self.relays.values()):
            relay.abort()
        self.relays.clear()
        self._poll.close()
        os.close(self._wakeup_r)
        os.close(self._wakeup_w)


def _note_signal(number: int, frame: object) -> None:
    """A Python handler, so that the signal reaches the wakeup fd and ends the loop."""
