"""The per-connection side of the websockify bridge: token check, logging, relay.

websockify forks one process per WebSocket connection and runs one of these handlers in
it. We extend the stock handler through its seams: the order of the Origin and token
checks, redacted logs, bounded messages and a relay loop with backpressure.
"""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import time
from urllib.parse import parse_qs, urlsplit

from websockify.websocketproxy import ProxyRequestHandler
from websockify.websockifyserver import CompatibleWebSocket

from plugin_serialconsole import i18n
from plugin_serialconsole.bridge import refusals

log = logging.getLogger(__name__)

# A paste arrives as one message; 1 MiB is far above any paste a terminal should send.
MAX_MESSAGE = 1024 * 1024
FLUSH_TIMEOUT = 5.0
TOO_BIG = 1009
INTERNAL_ERROR_CLOSE = 1011
TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s'\"]*")


def redact(text: str) -> str:
    """``text`` with the value of every ``token=`` replaced."""
    return TOKEN_IN_TEXT.sub(r"\1<redacted>", text)


def announced_frame(buffer: bytes) -> tuple[int, int] | None:
    """(header length, payload length) a WebSocket frame at the start of ``buffer``
    announces (RFC 6455 section 5.2), or None while its header is incomplete."""
    if len(buffer) < 2:
        return None
    masked, length = buffer[1] & 0x80, buffer[1] & 0x7F
    extended = {126: 2, 127: 8}.get(length, 0)
    header = 2 + extended + (4 if masked else 0)
    if len(buffer) < header:
        return None
    if extended:
        length = int.from_bytes(buffer[2 : 2 + extended], "big")
    return header, length


class BoundedWebSocket(CompatibleWebSocket):
    """Closes with 1009 on a message larger than MAX_MESSAGE instead of buffering it.

    websockify buffers a whole message before decoding it; without a bound one client could
    make its handler process grow without limit. A frame's header announces its size, so
    the close goes out as soon as the header is in. The rest of that frame is read and
    dropped, never buffered, and the connection ends with the client's close reply: a
    socket closed with unread data would answer with a reset, and the client would never
    read the 1009.
    """

    _discard = 0  # bytes of a refused frame still to come, dropped as they arrive

    def _recv(self) -> bool:
        more = super()._recv()
        if self._discard:
            dropped = min(self._discard, len(self._recv_buffer))
            self._recv_buffer = self._recv_buffer[dropped:]
            self._discard -= dropped
        return more

    def _recv_frames(self) -> bool:
        if len(self._partial_msg) > MAX_MESSAGE:  # grown by fragments, each below the bound
            self._partial_msg = b""
            self._refuse_too_big()
        more = super()._recv_frames()
        frame = announced_frame(self._recv_buffer) if more else None
        if frame is not None and frame[1] + len(self._partial_msg) > MAX_MESSAGE:
            self._discard = sum(frame) - len(self._recv_buffer)
            self._recv_buffer = self._partial_msg = b""
            self._refuse_too_big()
        return more

    def _unmask(self, buf: bytes, mask: bytes) -> bytes:
        """``buf`` XOR the repeated 4-byte ``mask``, as two integers: a 1 MiB paste takes
        milliseconds without numpy, which the proxy does not load (see ``proxy_main``)."""
        length = len(buf)
        key = (bytes(mask) * (length // 4 + 1))[:length]
        unmasked = int.from_bytes(buf, "little") ^ int.from_bytes(key, "little")
        return unmasked.to_bytes(length, "little")

    def _refuse_too_big(self) -> None:
        self.shutdown(socket.SHUT_RDWR, TOO_BIG, "Message too big")
        self.close_code, self.close_reason = TOO_BIG, "Message too big"


class ConsoleRequestHandler(ProxyRequestHandler):
    """Checks Origin before the token is spent, never logs a token, relays with backpressure."""

    SocketClass = BoundedWebSocket
    _origin_checked = False
    _relaying = False

    def handle(self) -> None:
        """One request per connection. The accept loop forked this handler for a complete
        request head; waiting on for a keep-alive request would let an idle client hold
        a handler process, of which there are few."""
        self.handle_one_request()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base's signature)
        super().log_message("%s", redact(format % args))

    def validate_connection(self) -> None:
        self.auth_connection()
        super().validate_connection()

    def auth_connection(self) -> None:
        if not self._origin_checked:
            self._origin_checked = True
            super().auth_connection()

    def get_target(self, target_plugin):
        tokens = parse_qs(urlsplit(self.path).query).get("token") or [""]
        target = target_plugin.lookup(tokens[0].strip(), self.headers.get("Cookie", ""))
        if target is None:
            self._answer("403 Forbidden", i18n.CONSOLE_TOKEN_REFUSED)
            raise self.server.EClose(
                f"refused: {i18n.CONSOLE_TOKEN_REFUSED} unknown, used or expired token"
            )
        return target

    def _answer(self, status: str, code: str, **params: object) -> None:
        """Refuse the upgrade: ``status`` with ``{"code", "reason"}`` in the client's language."""
        language = i18n.request_language(self.headers.get("Accept-Language"))
        self.wfile.write(refusals.http_answer(status, code, params, language))
        self.close_connection = True

    def new_websocket_client(self) -> None:
        """websockify's, with every failure told to the client as a close code and a reason
        with a message code, and logged once."""
        language = i18n.request_language(self.headers.get("Accept-Language"))
        try:
            super().new_websocket_client()
        except self.CClose as close:
            if self._relaying or close.args[0] != INTERNAL_ERROR_CLOSE:
                raise
            # websockify's 1011 before the relay: the console's socket refused the connection.
            log.warning(
                "%s: the console process is gone (%s)", i18n.CONSOLE_GONE, self.server.unix_target
            )
            raise self.CClose(
                INTERNAL_ERROR_CLOSE, refusals.close_reason(i18n.CONSOLE_GONE, {}, language)
            ) from None
        except ConnectionError:
            raise  # the client is gone: nobody to tell
        except Exception as error:
            log.exception(
                "%s: relay to %s failed", i18n.CONSOLE_RELAY_FAILED, self.server.unix_target
            )
            reason = refusals.close_reason(i18n.CONSOLE_RELAY_FAILED, {"error": error}, language)
            raise self.CClose(INTERNAL_ERROR_CLOSE, reason) from None

    def do_proxy(self, target: socket.socket) -> None:
        """Relay both ways, holding at most one chunk in each direction.

        Console output is read only once the previous chunk has gone out to the browser,
        and browser input only once the previous input reached the console, so a slow
        peer slows the other side down instead of filling this process's memory.
        """
        self._relaying = True
        target.setblocking(False)
        to_target = bytearray()
        client_busy = False
        with selectors.DefaultSelector() as selector:  # not select(): any descriptor number
            while True:
                client = selectors.EVENT_WRITE if client_busy else 0
                client |= 0 if to_target else selectors.EVENT_READ
                console = 0 if client_busy else selectors.EVENT_READ
                console |= selectors.EVENT_WRITE if to_target else 0
                _watch(selector, self.request, client)
                _watch(selector, target, console)
                ready = {key.fileobj: events for key, events in selector.select()}
                if ready.get(self.request, 0) & selectors.EVENT_WRITE:
                    client_busy = self.send_frames()
                if ready.get(target, 0) & selectors.EVENT_WRITE:
                    del to_target[: _send_some(target, to_target)]
                if ready.get(self.request, 0) & selectors.EVENT_READ:
                    self._from_client(to_target, target)
                if ready.get(target, 0) & selectors.EVENT_READ:
                    client_busy = self._from_target(target)

    def _from_client(self, to_target: bytearray, target: socket.socket) -> None:
        messages, closed = self.recv_frames()
        for message in messages:
            to_target += message
        if closed:
            _flush(target, to_target)
            raise self.CClose(closed["code"], closed["reason"])

    def _from_target(self, target: socket.socket) -> bool:
        try:
            data = target.recv(self.server.buffer_size)
        except BlockingIOError:
            return bool(self.send_parts)
        if data:
            return self.send_frames([data])
        deadline = time.monotonic() + FLUSH_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(self.request, selectors.EVENT_WRITE)
            while self.send_frames() and time.monotonic() < deadline:
                selector.select(deadline - time.monotonic())
        raise self.CClose(1000, "Target closed")


def _watch(selector: selectors.BaseSelector, sock: socket.socket, events: int) -> None:
    """Watch ``sock`` for ``events`` from now on (none: not at all)."""
    key = selector.get_map().get(sock.fileno())
    if key is None:
        if events:
            selector.register(sock, events)
    elif not events:
        selector.unregister(sock)
    elif key.events != events:
        selector.modify(sock, events)


def _send_some(sock: socket.socket, data: bytearray) -> int:
    try:
        return sock.send(data)
    except BlockingIOError:
        return 0


def _flush(sock: socket.socket, data: bytearray) -> None:
    """Best effort: hand the client's last input to the console before closing."""
    sock.settimeout(FLUSH_TIMEOUT)
    with contextlib.suppress(OSError):
        sock.sendall(data)
