"""What the WebSocket proxy tells a client it turns away, with a message code: an HTTP
answer before the upgrade, a close code and reason after it."""

from __future__ import annotations

import contextlib
import json
import re
import socket

from plugin_serialconsole import i18n
from plugin_serialconsole.languages import request_language

# RFC 6455 5.5: a control frame's payload is at most 125 bytes, 2 of them the close code.
MAX_CLOSE_REASON = 123
# http.server reads lines of up to 64 KiB; a browser's WebSocket request is well under 8.
MAX_HEAD = 16 * 1024
ACCEPT_LANGUAGE = re.compile(rb"^accept-language:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


def head_language(head: bytes) -> str:
    """The language an HTTP request head asks for (Accept-Language), among our catalogs."""
    found = ACCEPT_LANGUAGE.search(head)
    return request_language(found.group(1).decode("latin-1") if found else None)


def http_answer(status: str, code: str, params: dict[str, object], language: str) -> bytes:
    """A complete HTTP response: ``status`` with ``{"code", "reason"}``, then close."""
    body = json.dumps({"code": code, "reason": i18n.translate(code, params, language)}).encode()
    return (
        b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n%s" % (status.encode(), len(body), body)
    )


def close_reason(code: str, params: dict[str, object], language: str) -> str:
    """``CODE: text`` cut to fit a WebSocket close frame (whole characters only)."""
    text = f"{code}: {i18n.translate(code, params, language)}".encode()
    return text[:MAX_CLOSE_REASON].decode(errors="ignore")


def refuse(sock: socket.socket, status: str, code: str, **params: object) -> bytes:
    """Answer ``status`` with message ``code`` (in the language the request asks for) and
    close, reading what was sent first so the close is a FIN, not a reset that would
    swallow the answer; returns what was read of the request."""
    sock.setblocking(False)
    head = b""
    with contextlib.suppress(OSError):
        head = sock.recv(MAX_HEAD)
    with contextlib.suppress(OSError):
        sock.send(http_answer(status, code, params, head_language(head)))
        sock.shutdown(socket.SHUT_WR)
    sock.close()
    return head
