"""The proxy's accept loop: a handshake waits in the main process; only a complete one forks.

Stock websockify forks a handler process for every TCP connection the moment it is
accepted, before reading a byte, with no upper bound: connections that send nothing, or
half a request, cost a whole process each (about 2.4 MiB) for as long as they stay open.
Its ``start_server`` has no hook between ``accept`` and the fork, so this loop takes its
place and keeps everything else stock: each handler runs websockify's own
``top_new_client`` (``do_handshake``, then the request handler) in a forked child.

Here a connection costs one socket while it waits for its request head (edge-triggered,
peeked, never read, so the child parses the request as websockify always does). It gets
``handshake_timeout`` seconds; past ``max_waiting`` waiting connections the oldest goes.
A complete head gets a handler process if fewer than ``max_handlers`` run, else a 503,
without a fork.
"""

from __future__ import annotations

import contextlib
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
from plugin_serialconsole.bridge.forked import (
    HandlerProcess,
    keep_only,
    low_numbered,
    wait_for_ends,
)

log = logging.getLogger(__name__)

# The end of an HTTP request head; lines may end with a bare LF, as http.server accepts.
HEAD_END = re.compile(rb"\r?\n\r?\n")
# http.server reads lines of up to 64 KiB; a browser's WebSocket request is well under 8.
MAX_HEAD = 16 * 1024
# When the loop ends, handlers of consoles that are ending too get this long to finish;
# with the time to stop the rest, it stays within the runner's wait for the proxy.
HANDLER_GRACE = 2.0
STOP_TIMEOUT = 2.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
WAITING_EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET

Address = tuple
Serve = Callable[[socket.socket, Address], None]


@dataclass(frozen=True)
class HandlerLimits:
    """How many handler processes run at once, and how long a handshake may take."""

    max_handlers: int
    handshake_timeout: float


@dataclass(frozen=True)
class Waiting:
    sock: socket.socket
    address: Address
    deadline: float


def refuse(sock: socket.socket, status: str, code: str, **params: object) -> None:
    """Answer ``status`` with message ``code`` (in the language the request asks for) and
    close, reading what was sent first so the close is a FIN, not a reset that would
    swallow the answer."""
    sock.setblocking(False)
    head = b""
    with contextlib.suppress(OSError):
        head = sock.recv(MAX_HEAD)
    with contextlib.suppress(OSError):
        sock.send(refusals.http_answer(status, code, params, refusals.head_language(head)))
        sock.shutdown(socket.SHUT_WR)
    sock.close()


class AcceptLoop:
    """Accepts on ``listener`` until SIGTERM/SIGINT or end of file on ``lifeline``."""

    def __init__(
        self,
        listener: socket.socket,
        lifeline: int,
        serve: Serve,
        limits: HandlerLimits,
        keep: tuple[int, ...] = (),
    ) -> None:
        self.listener = listener
        self.lifeline = lifeline
        self.serve = serve
        self.limits = limits
        self.keep = keep  # descriptors a handler keeps besides its connection and stdio
        self.max_waiting = max_waiting()
        self.max_handlers = max_handlers(limits.max_handlers, self.max_waiting)
        self.waiting: dict[int, Waiting] = {}  # by fd, oldest first
        self.handlers: dict[int, HandlerProcess] = {}  # by pidfd
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

    def _step(self) -> bool:
        """Wait for one batch of events and handle it; False once asked to stop."""
        timeout = -1.0
        if self.waiting:
            timeout = max(0.0, next(iter(self.waiting.values())).deadline - time.monotonic())
        for fd, events in self._poll.poll(timeout):
            if fd == self._wakeup_r:
                os.read(self._wakeup_r, 64)
                log.info("asked to stop")
                return False
            if fd == self.lifeline and not os.read(self.lifeline, 1024):
                log.info("the host is gone; stopping")
                return False
            if fd == self.listener.fileno():
                self._accept()
            elif fd in self.handlers:
                self._reap(fd)
            elif fd in self.waiting:
                self._check(self.waiting[fd], events)
        self._expire(time.monotonic())
        return True

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
            refuse(
                waiting.sock,
                "431 Request Header Fields Too Large",
                i18n.HEADER_TOO_LARGE,
                limit=MAX_HEAD,
            )
        elif not head or events & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
            self._drop(waiting.sock.fileno())  # gone, or done sending without a request

    def _dispatch(self, waiting: Waiting) -> None:
        if len(self.handlers) >= self.max_handlers:
            if not self.refused:
                log.warning(
                    "%s WebSocket handlers running, the most allowed (max_ws_handlers); "
                    "refusing new connections with 503 %s",
                    len(self.handlers), i18n.WS_HANDLERS_BUSY,
                )  # fmt: skip
            self.refused += 1
            refuse(
                waiting.sock,
                "503 Service Unavailable",
                i18n.WS_HANDLERS_BUSY,
                limit=len(self.handlers),
            )
            return
        waiting.sock.setblocking(True)
        try:
            process = HandlerProcess.fork(lambda: self._handle(waiting.sock, waiting.address))
        except OSError as error:
            log.error(
                "could not start a WebSocket handler process: %s; refused with 503 %s",
                error, i18n.WS_HANDLER_FAILED,
            )  # fmt: skip
            refuse(
                waiting.sock,
                "503 Service Unavailable",
                i18n.WS_HANDLER_FAILED,
                error=error.strerror,
            )
            return
        waiting.sock.close()
        self.handlers[process.pidfd] = process
        self._poll.register(process.pidfd, select.EPOLLIN)

    def _handle(self, sock: socket.socket, address: Address) -> int:
        """In the handler's child: keep only its own connection (at a low descriptor
        number, see ``forked``) and what ``keep`` names, then serve it."""
        signal.set_wakeup_fd(-1)
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_DFL)
        self._poll.close()
        self.listener.close()
        for other in self.waiting.values():
            other.sock.close()
        keep_only((sock.fileno(), *self.keep))
        sock = low_numbered(sock)
        try:
            self.serve(sock, address)
        finally:
            sock.close()
        return 0

    def _reap(self, pidfd: int) -> None:
        self._poll.unregister(pidfd)
        self.handlers.pop(pidfd).reap()
        if self.refused and len(self.handlers) < self.max_handlers:
            log.warning("refused %s WebSocket connections while at max_ws_handlers", self.refused)
            self.refused = 0

    def _expire(self, now: float) -> None:
        while self.waiting:
            fd, oldest = next(iter(self.waiting.items()))
            if oldest.deadline > now:
                return
            log.debug("%s: no complete handshake in time; closed", oldest.address[0])
            self._forget(oldest)
            refuse(
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
        """Close every connection this loop holds and end every handler.

        Handlers get a moment first: when the host stops or dies, its consoles end too
        and send a last line saying why, which their handlers relay before they end.
        """
        self.listener.close()
        for waiting in self.waiting.values():
            waiting.sock.close()
        self.waiting.clear()
        self._poll.close()
        os.close(self._wakeup_r)
        os.close(self._wakeup_w)
        running = wait_for_ends(set(self.handlers), HANDLER_GRACE)
        for pidfd in running:
            self.handlers[pidfd].signal(signal.SIGTERM)
        for pidfd in wait_for_ends(running, STOP_TIMEOUT):
            self.handlers[pidfd].signal(signal.SIGKILL)
        for process in self.handlers.values():
            process.reap()
        self.handlers.clear()


def _note_signal(number: int, frame: object) -> None:
    """A Python handler, so that the signal reaches the wakeup fd and ends the loop."""
