"""How much of an HTTP/1.1 request has arrived, judged from the bytes received so far.

The connection gate (``gate.py``) peeks at what a client has sent and asks ``examine``
whether the request is complete (a worker thread may read it without waiting), still
arriving (head or body), or refused (a status, a message code and its parameters).

The framing rules are strict where leniency lets a request be read two ways (request
smuggling) or makes a worker wait: exactly one ``Content-Length`` of decimal digits, or
``Transfer-Encoding: chunked`` alone, never both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from plugin_serialconsole import httpvalues, i18n

HEAD_END = b"\r\n\r\n"
CRLF = b"\r\n"
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")
MAX_CHUNK_LINE = 1024  # a chunk-size line with its extensions


@dataclass(frozen=True)
class SizeLimits:
    """The largest request head and body (decoded) the gate holds, in bytes."""

    head: int = 32 * 1024
    body: int = 64 * 1024

    @property
    def held(self) -> int:
        """Bytes of one request the gate may have to hold: head, body and chunk framing."""
        return self.head + 2 * self.body


class Stage(Enum):
    HEAD = "head"  # the head is still arriving
    BODY = "body"  # the head is in, the body is still arriving
    COMPLETE = "complete"  # everything is in: a worker can read it without waiting
    REFUSED = "refused"


@dataclass(frozen=True)
class Verdict:
    stage: Stage
    status: int = 0
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    awaits_continue: bool = False  # BODY: the client waits for "100 Continue" to send it


HEAD = Verdict(Stage.HEAD)
BODY = Verdict(Stage.BODY)
BODY_AFTER_CONTINUE = Verdict(Stage.BODY, awaits_continue=True)
COMPLETE = Verdict(Stage.COMPLETE)


class FramingError(ValueError):
    """Content-Length / Transfer-Encoding a server cannot read one unambiguous way."""


class BodyTooLarge(Exception):
    pass


def examine(data: bytes, limits: SizeLimits) -> Verdict:
    """What ``data`` (the first bytes of a request on a connection) amounts to."""
    start = len(data) - len(data.lstrip(CRLF))  # empty lines before a request are ignored
    end = data.find(HEAD_END, start)
    head_size = (end if end >= 0 else len(data)) - start
    if head_size > limits.head:
        return Verdict(Stage.REFUSED, 431, i18n.HEADER_TOO_LARGE, {"limit": limits.head})
    if end < 0:
        return HEAD
    too_large = Verdict(Stage.REFUSED, 413, i18n.BODY_TOO_LARGE, {"limit": limits.body})
    header_lines = data[start:end].split(CRLF)[1:]
    try:
        length = body_length(header_lines)
        body = data[end + len(HEAD_END) :]
        if length is None:
            complete = chunked_body_complete(body, limits.body)
        elif length > limits.body:
            return too_large
        else:
            complete = len(body) >= length
    except FramingError as error:
        return Verdict(Stage.REFUSED, 400, i18n.BAD_FRAMING, {"error": str(error)})
    except BodyTooLarge:
        return too_large
    if complete:
        return COMPLETE
    if len(data) >= limits.held:  # chunk framing that outweighs its data
        return too_large
    if not body and expects_continue(header_lines):
        return BODY_AFTER_CONTINUE
    return BODY


def expects_continue(header_lines: list[bytes]) -> bool:
    """``Expect: 100-continue``: the client sends the body once told to go on."""
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"expect" and value.strip().lower() == b"100-continue":
            return True
    return False


def body_length(header_lines: list[bytes]) -> int | None:
    """The body's length from the head's header lines: 0 without a body, None if chunked."""
    lengths: list[bytes] = []
    encodings: list[bytes] = []
    for line in header_lines:
        name, colon, value = line.partition(b":")
        if not colon:
            continue  # not a header: the HTTP parser refuses it
        name = name.strip().lower()
        if name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            encodings += [v.strip().lower() for v in value.split(b",") if v.strip()]
    if lengths and encodings:
        raise FramingError("both Content-Length and Transfer-Encoding")
    if encodings:
        if encodings != [b"chunked"]:
            raise FramingError("Transfer-Encoding other than chunked")
        return None
    if len(lengths) > 1:
        raise FramingError("more than one Content-Length")
    return content_length(lengths[0]) if lengths else 0


def content_length(value: bytes) -> int:
    """A Content-Length value (``httpvalues.content_length``); FramingError if malformed."""
    try:
        return httpvalues.content_length(value)
    except ValueError as error:
        raise FramingError(str(error)) from None


def chunked_body_complete(body: bytes, limit: int) -> bool:
    """True once ``body`` holds a whole chunked body (last chunk and trailers included).

    Raises FramingError for a malformed chunk and BodyTooLarge past ``limit`` data bytes.
    """
    position, total = 0, 0
    while True:
        line_end = body.find(CRLF, position)
        if line_end < 0:
            if len(body) - position > MAX_CHUNK_LINE:
                raise FramingError("chunk-size line too long")
            return False
        size_text = body[position:line_end].split(b";", 1)[0].strip(b" \t")
        if not CHUNK_SIZE.fullmatch(size_text):
            raise FramingError("malformed chunk size")
        size = int(size_text, 16)
        total += size
        if total > limit:
            raise BodyTooLarge
        if size == 0:  # the last chunk; trailer lines end with an empty line
            return body.find(HEAD_END, line_end) >= 0
        position = line_end + len(CRLF) + size + len(CRLF)
        if position > len(body):
            return False
        if body[position - len(CRLF) : position] != CRLF:
            raise FramingError("chunk data longer than its size")
