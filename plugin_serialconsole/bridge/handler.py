"""The handshake of a console connection: websockify's request handler, run by the proxy's
event loop (``accept``) on a connection whose request head has arrived in full.

We extend the stock handler through its seams: the order of the Origin and token checks,
redacted logs, bounded messages, and instead of websockify's blocking relay loop, a
``Relay`` the event loop serves from then on.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
from urllib.parse import parse_qs, urlsplit

from websockify.auth_plugins import InvalidOriginError
from websockify.websocket import WebSocketWantWriteError
from websockify.websocketproxy import ProxyRequestHandler
from websockify.websockifyserver import CompatibleWebSocket

from plugin_serialconsole import i18n
from plugin_serialconsole.bridge import refusals, reports
from plugin_serialconsole.bridge.relay import INTERNAL_ERROR_CLOSE, Relay
from plugin_serialconsole.languages import request_language

log = logging.getLogger(__name__)

# A paste arrives as one message; 1 MiB is far above any paste a terminal should send.
MAX_MESSAGE = 1024 * 1024
TOO_BIG = 1009
TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s'\"]*")
# Characters of a refused Origin (client text, up to a whole request head) that are logged.
MAX_LOGGED_ORIGIN = 100


def redact(text: str) -> str:
    """``text`` with the value of every ``token=`` replaced."""
    return TOKEN_IN_TEXT.sub(r"\1<redacted>", text)


def quoted(text: str) -> str:
    """Client text for a log line: quoted, escaped, cut to ``MAX_LOGGED_ORIGIN`` characters."""
    cut = "..." if len(text) > MAX_LOGGED_ORIGIN else ""
    return repr(text[:MAX_LOGGED_ORIGIN]) + cut


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
    make the proxy grow without limit. A frame's header announces its size, so
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

    def handle_ping(self, data: bytes) -> None:
        """Queue the pong behind the output that waits. websockify's ``pong`` sends at once:
        with a message still waiting to be flushed it raises ValueError, and it may raise
        ``WebSocketWantWriteError`` in the middle of a read; the relay flushes the queue
        once the browser's socket takes more."""
        self._send_buffer += self._encode_hybi(0xA, data)

    def _unmask(self, buf: bytes, mask: bytes) -> bytes:
        """``buf`` XOR the repeated 4-byte ``mask``, as two integers: a 1 MiB paste takes
        milliseconds without numpy, which the proxy does not load (see ``proxy_main``)."""
        length = len(buf)
        key = (bytes(mask) * (length // 4 + 1))[:length]
        unmasked = int.from_bytes(buf, "little") ^ int.from_bytes(key, "little")
        return unmasked.to_bytes(length, "little")

    def _refuse_too_big(self) -> None:
        with contextlib.suppress(WebSocketWantWriteError):  # queued, sent when writable
            self.shutdown(socket.SHUT_RDWR, TOO_BIG, "Message too big")
        self.close_code, self.close_reason = TOO_BIG, "Message too big"

    def peer_closed(self) -> bool:
        """Whether the client's close frame has come in."""
        return self._received_close

    def pending_output(self) -> bool:
        """Whether frames wait to be sent (the socket was not writable enough)."""
        return bool(self._send_buffer) and self.socket is not None

    def flush(self) -> None:
        """Send what waits, as far as the socket takes it; a message whose ``sendmsg``
        raised ``WebSocketWantWriteError`` counts as sent once all of it is out."""
        if self.socket is None:
            return
        with contextlib.suppress(WebSocketWantWriteError):
            self._flush()
            self._previous_sendmsg = None


class ConsoleRequestHandler(ProxyRequestHandler):
    """Checks Origin before the token is spent, refuses either with a message code, never
    logs a token, hands over a ``Relay``."""

    SocketClass = BoundedWebSocket
    _origin_checked = False
    relay: Relay | None = None  # set once the console is connected
    unix_target = ""

    def handle(self) -> None:
        """One request per connection: the event loop runs this handler for a complete
        request head; waiting on for a keep-alive request would stall the loop."""
        self.handle_one_request()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base's signature)
        super().log_message("%s", redact(format % args))

    def auth_connection(self) -> None:
        if not self._origin_checked:
            self._origin_checked = True
            super().auth_connection()

    def get_target(self, target_plugin):
        tokens = parse_qs(urlsplit(self.path).query).get("token") or [""]
        found = target_plugin.resolve(tokens[0].strip(), self.headers.get("Cookie", ""))
        if found.target is None:
            self._answer("403 Forbidden", i18n.CONSOLE_TOKEN_REFUSED)
            self._report(
                found.refused, 403, i18n.CONSOLE_TOKEN_REFUSED, found.socket, found.operator
            )
            raise self.server.EClose(
                f"refused: {i18n.CONSOLE_TOKEN_REFUSED} unknown, used or expired token"
            )
        return found.target

    def send_auth_error(self, ex: InvalidOriginError) -> None:
        """Refuse a page of a foreign Origin (the auth plugin's one refusal) as a token is
        refused: 403 with a message code in the client's language, reported to the host,
        and a log line naming the Origin quoted and cut, as client text is."""
        self._answer("403 Forbidden", i18n.ORIGIN_REFUSED)
        self._report(reports.ORIGIN, 403, i18n.ORIGIN_REFUSED)
        raise self.server.EClose(
            f"refused: {i18n.ORIGIN_REFUSED} Origin {quoted(ex.actual_origin or '')}, "
            f"expected {ex.expected_origin}"
        )

    def _report(
        self,
        refused: str,
        status: int,
        code: str,
        socket_name: str | None = None,
        operator: str | None = None,
    ) -> None:
        peer, forwarded = self.client_address[0], reports.forwarding(self.headers)
        self.server.reports.refused(refused, status, code, peer, forwarded, socket_name, operator)

    def _answer(self, status: str, code: str, **params: object) -> None:
        """Refuse the upgrade: ``status`` with ``{"code", "reason"}`` in the client's language."""
        language = request_language(self.headers.get("Accept-Language"))
        self.wfile.write(refusals.http_answer(status, code, params, language))
        self.close_connection = True

    def validate_connection(self) -> None:
        self.auth_connection()
        _, self.unix_target = self.get_target(self.server.token_plugin)  # ("unix_socket", path)

    def new_websocket_client(self) -> None:
        """Connect to the console and hand both sockets to the proxy's loop as a ``Relay``;
        a console that cannot be reached is told to the client as a close code and a
        reason with a message code, and logged once."""
        language = request_language(self.headers.get("Accept-Language"))
        self.log_message("connecting to unix socket: %s", self.unix_target)
        target = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target.setblocking(False)  # a console whose backlog is full must not stall the loop
        try:
            target.connect(self.unix_target)
        except OSError as error:
            target.close()
            log.warning(
                "%s: the console process is gone (%s: %s)",
                i18n.CONSOLE_GONE, self.unix_target, error,
            )  # fmt: skip
            reason = refusals.close_reason(i18n.CONSOLE_GONE, {}, language)
            raise self.CClose(INTERNAL_ERROR_CLOSE, reason) from None
        self.request.setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, 1)
        chunk = self.server.buffer_size
        self.relay = Relay(self.request, target, language, self.unix_target, chunk)
