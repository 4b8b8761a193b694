"""The WebSocket proxy's report channel to the host: one JSON line per connection it
refused, over a pipe the runner makes (``--report-fd``), so the host's audit trail holds
the proxy's refusals as it holds its own.

A line says what the proxy answered (message code, HTTP status, the kind of refusal), who
asked (the peer address and the forwarding headers it sent, for the host to resolve with
its trusted proxies) and, once a token was read, the console socket and operator it was
issued for; never a token or a cookie. The proxy's end never blocks: the pipe is
non-blocking and a line (well under ``PIPE_BUF``, so written whole or not at all) that
does not fit is dropped and counted, the count sent with the next line that fits.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from email.message import Message
from http.client import parse_headers

log = logging.getLogger(__name__)

FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP")
# Characters kept of a forwarding header (its right end: the hops the nearest proxies
# wrote, which decide the client) and of any other text: escaped as JSON (at most 6 bytes
# a character), a line stays within MAX_LINE.
MAX_HEADER = 200
MAX_FIELD = 100
MAX_LINE = 4096  # PIPE_BUF on Linux: a write this long is atomic
# Kinds of refusal
UNKNOWN_TOKEN = "token"  # unknown, used, expired or revoked (a login that ended)
NO_LOGIN = "login"  # presented without the login session it was issued to
NO_RIGHT = "right"  # its operator lost the right it was issued for
NO_CONSOLE = "console"  # its console is gone
ORIGIN = "origin"  # the page's Origin is not allowed
BUSY = "busy"  # max_ws_handlers reached


@dataclass(frozen=True)
class Refusal:
    """One connection the proxy refused, as reported to the host."""

    refused: str  # the kind, above
    status: int  # the HTTP status answered
    code: str  # its message code
    peer: str  # the address the connection came from
    forwarded: dict[str, str] = field(default_factory=dict)  # ``FORWARDING_HEADERS`` sent
    socket: str | None = None  # the console socket the token was for
    operator: str | None = None  # whom the token was issued to
    dropped: int = 0  # refusals not reported before this one (the pipe was full)

    @classmethod
    def from_json(cls, line: bytes) -> Refusal:
        """The refusal of one report line; ValueError if it is not one."""
        fields = json.loads(line)
        if not isinstance(fields, dict) or fields.pop("event", None) != "denied":
            raise ValueError("not a refusal")
        refusal = cls(**fields)
        texts = (refusal.refused, refusal.code, refusal.peer)
        if not all(isinstance(text, str) for text in texts) or not isinstance(refusal.status, int):
            raise ValueError("a refusal with fields of the wrong type")
        if not isinstance(refusal.forwarded, dict):
            raise ValueError("a refusal with fields of the wrong type")
        return refusal

    def as_line(self) -> bytes:
        return json.dumps({"event": "denied", **asdict(self)}).encode() + b"\n"


def forwarding(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The forwarding headers among ``headers``, each cut to its last ``MAX_HEADER``
    characters, from a comma on: whole addresses, the nearest hops."""
    if headers is None:
        return {}
    found = {name: _last_line(headers, name) for name in FORWARDING_HEADERS}
    return {name: _tail(value) for name, value in found.items() if value}


def _last_line(headers: Mapping[str, str], name: str) -> str | None:
    """The header's last line, the one the REST side (cheroot) keeps of a repeated header:
    a line the client wrote before its proxy's own must not name the client."""
    every = headers.get_all(name) if isinstance(headers, Message) else None
    return every[-1] if every else headers.get(name)


def _tail(value: str) -> str:
    if len(value) <= MAX_HEADER:
        return value
    tail = value[-MAX_HEADER:]
    return tail.partition(",")[2] if "," in tail else tail


def head_forwarding(head: bytes) -> dict[str, str]:
    """The forwarding headers of a raw request head (a connection refused unparsed)."""
    _, _, rest = head.partition(b"\n")
    with contextlib.suppress(Exception):  # a head that does not parse forwards nothing
        return forwarding(parse_headers(io.BytesIO(rest)))
    return {}


def _cut(text: str | None) -> str | None:
    return text[:MAX_FIELD] if text is not None else None


class ReportWriter:
    """The proxy's end: reports refusals to the host, never waiting for it (to nobody
    with ``fd`` None: a proxy run without a report channel)."""

    def __init__(self, fd: int | None = None) -> None:
        if fd is not None:
            os.set_blocking(fd, False)
        self.fd = fd
        self.dropped = 0

    def refused(
        self,
        refused: str,
        status: int,
        code: str,
        peer: str,
        forwarded: dict[str, str],
        socket: str | None = None,
        operator: str | None = None,
    ) -> None:
        """Report one refusal (or count it, when the pipe is full or the host gone)."""
        if self.fd is None:
            return
        refusal = Refusal(
            refused, status, code, _cut(peer) or "", forwarded, _cut(socket), _cut(operator)
        )
        line = Refusal(**{**asdict(refusal), "dropped": self.dropped}).as_line()
        try:
            if len(line) > MAX_LINE:  # cannot be, the fields being cut; never half a line
                raise ValueError(f"a report line of {len(line)} bytes")
            os.write(self.fd, line)  # whole or not at all: at most PIPE_BUF bytes
        except (OSError, ValueError) as error:  # BlockingIOError: full; BrokenPipeError
            if not self.dropped:
                log.warning("refusals not reported to the host: %s", error)
            self.dropped += 1
            return
        self.dropped = 0


class ReportReader:
    """The host's end: a thread handing each refusal read from ``fd`` to ``on_refusal``,
    until the proxy (the write end's only holder) is gone."""

    def __init__(self, fd: int, on_refusal: Callable[[Refusal], None]) -> None:
        self.fd = fd
        self.on_refusal = on_refusal
        self.thread = threading.Thread(target=self._read, name="websockify-reports", daemon=True)

    def start(self) -> ReportReader:
        self.thread.start()
        return self

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def _read(self) -> None:
        with open(self.fd, "rb", buffering=MAX_LINE) as pipe:
            while line := pipe.readline(MAX_LINE):
                if not line.endswith(b"\n"):
                    log.warning("a report of the WebSocket proxy that is not one line; ignored")
                    continue
                self._deliver(line)

    def _deliver(self, line: bytes) -> None:
        try:
            refusal = Refusal.from_json(line)
        except (TypeError, ValueError) as error:
            log.warning("an unreadable report of the WebSocket proxy (%s); ignored", error)
            return
        if refusal.dropped:
            log.warning("the WebSocket proxy could not report %s refusals", refusal.dropped)
        try:
            self.on_refusal(refusal)
        except Exception:  # noqa: BLE001 (one report's failure; the next are read)
            log.exception("a refusal of the WebSocket proxy could not be audited")
