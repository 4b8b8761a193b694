"""What the WebSocket proxy tells a client it turns away, with a message code: an HTTP
answer before the upgrade, a close code and reason after it."""

from __future__ import annotations

import json
import re

from plugin_serialconsole import i18n

# RFC 6455 5.5: a control frame's payload is at most 125 bytes, 2 of them the close code.
MAX_CLOSE_REASON = 123
ACCEPT_LANGUAGE = re.compile(rb"^accept-language:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


def head_language(head: bytes) -> str:
    """The language an HTTP request head asks for (Accept-Language), among our catalogs."""
    found = ACCEPT_LANGUAGE.search(head)
    return i18n.request_language(found.group(1).decode("latin-1") if found else None)


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
