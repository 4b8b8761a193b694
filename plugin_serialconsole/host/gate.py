"""Connections wait here, off the worker threads, until their whole request has arrived.

cheroot hands every accepted connection straight to one of its few worker threads, which
then blocks in ``recv`` for up to its socket timeout per read: a handful of idle or
trickling clients hold every worker and nobody else is answered. ``wsgiserver.GatedServer``
routes ``process_conn`` (cheroot's one door to its thread pool, for new and for kept-alive
connections alike) through a ``ConnectionGate`` instead: one thread watches the waiting
sockets with edge-triggered epoll, peeks (``MSG_PEEK``: nothing is consumed, the worker
reads the bytes later as usual) and dispatches a connection once ``framing.examine`` finds
its request complete. So a worker never waits for a client, and:

- a request head must be complete within ``header_timeout`` seconds (a total deadline,
  however slowly it trickles), its body within ``body_timeout`` seconds after the head,
  else the client gets a 408;
- at most ``per_address`` connections are open per client address (503 beyond), except
  from ``trusted_proxies`` (reverse proxies, which speak for many clients), and at most
  ``total`` in all, kept below the file descriptor limit (past it cheroot's accept loop
  would spin on EMFILE).

Plain HTTP only: with TLS (an ``ssl_adapter``) the peeked bytes would be ciphertext.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from cheroot.server import HTTPConnection

from plugin_serialconsole import i18n
from plugin_serialconsole.host import framing
from plugin_serialconsole.host.forwarded import TrustedProxies, parse_address

log = logging.getLogger(__name__)

TICK = 0.25  # how often deadlines are checked, seconds
DRAIN_READS = 4  # reads of what a refused client sent, before the answer
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
WATCH = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET


@dataclass(frozen=True)
class GateLimits:
    """The ``[server]`` limits on clients (seconds, connections) and the sizes held."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    per_address: int = 20
    total: int = 1000
    proxies: TrustedProxies = TrustedProxies()  # exempt from the per-address cap
    sizes: framing.SizeLimits = field(default_factory=framing.SizeLimits)

    def is_exempt(self, address: str | None) -> bool:
        """True for a Unix-socket peer (no address) and for a trusted proxy."""
        return not address or self.proxies.trusts(parse_address(address))


def error_response(status: int, code: str, params: dict[str, object]) -> bytes:
    """A whole HTTP response with the JSON error document; the connection closes after it."""
    reason = i18n.translate(code, params, i18n.DEFAULT_LANGUAGE)
    body = json.dumps({"code": code, "reason": reason}, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


@dataclass
class _Waiting:
    """A connection the gate holds, and when its current stage must be over."""

    conn: HTTPConnection
    deadline: float
    stage: framing.Stage = framing.Stage.HEAD


class ConnectionGate:
    """Counts connections per address and holds each until its request is complete."""

    def __init__(self, limits: GateLimits, dispatch: Callable[[HTTPConnection], None]) -> None:
        self.limits = limits
        self._dispatch = dispatch  # hands a connection to the worker pool
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()  # per address, exempt ones not counted
        self._total = 0
        self._waiting: dict[int, _Waiting] = {}
        self._peeked = bytearray(limits.sizes.held)  # the gate thread's, reused
        self._epoll: select.epoll | None = None
        self._thread: threading.Thread | None = None
        self._running = False

    # accounting ---------------------------------------------------------------

    def admit(self, conn: HTTPConnection) -> bool:
        """Count a new connection; refuse one (answer 503 and close it) past the caps."""
        address = conn.remote_addr
        # Room in the kernel for all the gate may hold of a request (it peeks, never reads).
        conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.limits.sizes.held)
        capped = not self.limits.is_exempt(address)
        with self._lock:
            if self._total >= self.limits.total:
                refusal = (i18n.TOO_MANY_CONNECTIONS, self.limits.total)
            elif capped and self._open[address] >= self.limits.per_address:
                refusal = (i18n.TOO_MANY_CONNECTIONS_FROM_ADDRESS, self.limits.per_address)
            else:
                refusal = None
                self._total += 1
                conn.counted = True
                if capped:
                    self._open[address] += 1
                    conn.counted_address = address
        if refusal is None:
            return True
        code, limit = refusal
        log.info("refused a connection from %s: %s (limit %s)", address, code, limit)
        self._refuse(conn, 503, code, {"limit": limit})
        return False

    def forget(self, conn: HTTPConnection) -> None:
        """A counted connection closed."""
        with self._lock:
            if not conn.counted:
                return
            conn.counted = False
            self._total -= 1
            address, conn.counted_address = conn.counted_address, None
            if address is not None:
                self._open[address] -= 1
                if self._open[address] <= 0:
                    del self._open[address]

    def open_connections(self) -> tuple[int, dict[str, int]]:
        """Connections open in all, and per capped address."""
        with self._lock:
            return self._total, dict(self._open)

    # holding ----------------------------------------------------------------------

    def start(self) -> None:
        self._epoll = select.epoll()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="connection-gate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; close every connection still waiting."""
        self._running = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            waiting, self._waiting = list(self._waiting.values()), {}
        for entry in waiting:
            entry.conn.close()
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None

    def hold(self, conn: HTTPConnection) -> None:
        """Watch ``conn`` until its request is complete, then dispatch it."""
        fd = conn.socket.fileno()
        if fd < 0:  # closed meanwhile
            return
        conn.socket.settimeout(0)  # the gate's reads never wait (wsgiserver.GatedServer)
        with self._lock:
            deadline = time.monotonic() + self.limits.header_timeout
            self._waiting[fd] = _Waiting(conn, deadline)
        try:
            # Registering reports data that is already there, edge-triggered or not.
            self._epoll.register(fd, WATCH)
        except (OSError, ValueError, AttributeError):  # closed meanwhile, or stopping
            self._drop(fd)

    def _run(self) -> None:
        while self._running:
            try:
                events = self._epoll.poll(TICK)
            except InterruptedError:
                continue
            for fd, mask in events:
                hung_up = bool(mask & (select.EPOLLRDHUP | select.EPOLLHUP))
                try:
                    self._examine(fd, hung_up)
                except Exception:  # one connection's trouble must not stop the gate
                    log.exception("connection gate: dropping a connection after an error")
                    self._drop(fd)
            self._expire(time.monotonic())

    def _examine(self, fd: int, hung_up: bool) -> None:
        with self._lock:
            entry = self._waiting.get(fd)
        if entry is None:
            return
        conn = entry.conn
        try:
            size = conn.socket.recv_into(self._peeked, len(self._peeked), socket.MSG_PEEK)
            data = bytes(memoryview(self._peeked)[:size])
        except BlockingIOError:
            return
        except OSError:
            data = b""
            hung_up = True
        if conn.rfile.has_data():  # a pipelined request cheroot has read ahead
            data = conn.rfile.peek(0) + data
        verdict = framing.examine(data, self.limits.sizes)
        if verdict.stage is framing.Stage.COMPLETE:
            self._release(fd)
            self._dispatch(conn)
        elif verdict.stage is framing.Stage.REFUSED:
            self._release(fd)
            self._refuse(conn, verdict.status, verdict.code, verdict.params)
        elif hung_up:  # the client gave up half-way
            self._release(fd)
            conn.close()
        elif verdict.stage is not entry.stage:  # the head is in: the body's own deadline
            entry.stage = verdict.stage
            entry.deadline = time.monotonic() + self.limits.body_timeout
            if verdict.awaits_continue:  # what cheroot would say once the head is read
                with contextlib.suppress(OSError):
                    conn.socket.send(CONTINUE)

    def _expire(self, now: float) -> None:
        with self._lock:
            late = [(fd, entry) for fd, entry in self._waiting.items() if entry.deadline <= now]
        for fd, entry in late:
            if self._release(fd) is None:
                continue
            timeout = self.limits.header_timeout
            if entry.stage is framing.Stage.BODY:
                timeout = self.limits.body_timeout
            log.info(
                "request %s from %s not complete in %s s; answered 408",
                entry.stage.value,
                entry.conn.remote_addr,
                timeout,
            )
            self._refuse(entry.conn, 408, i18n.REQUEST_TIMEOUT, {"seconds": f"{timeout:g}"})

    def _release(self, fd: int) -> _Waiting | None:
        """Stop watching ``fd``; its entry, or None if another path released it first."""
        with self._lock:
            entry = self._waiting.pop(fd, None)
        if entry is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):  # gone, or stopped
                self._epoll.unregister(fd)
        return entry

    def _drop(self, fd: int) -> None:
        entry = self._release(fd)
        if entry is not None:
            with contextlib.suppress(OSError):
                entry.conn.close()

    @staticmethod
    def _refuse(conn: HTTPConnection, status: int, code: str, params: dict[str, object]) -> None:
        """Answer ``status`` and close. What the client sent is read first, so the close
        is a FIN, not a reset that could destroy the answer before the client reads it."""
        sock = conn.socket
        sock.settimeout(0)
        try:
            for _ in range(DRAIN_READS):
                if not sock.recv(65536):
                    break
        except OSError:
            pass
        try:
            sock.send(error_response(status, code, params))
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.ECONNRESET, errno.EAGAIN):
                log.debug("could not answer %s: %s", conn.remote_addr, error)
        conn.close()
