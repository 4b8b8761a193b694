"""WebSocket clients of consoles, and what tests check in what they receive."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import websocket

if TYPE_CHECKING:
    from .host import Host

WS_TIMEOUT = 5.0
PROMPT = b"# "
FINAL_LINE = re.compile(rb"\r\n\[serialconsole\] ([^\r\n]+) \((SCONS\d{4}L)\)\r\n\Z")


class Console:
    """A WebSocket client of one console, with a buffer so no byte is lost between reads."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.buffer = bytearray()
        self.closed = False

    def send(self, data: bytes | str) -> None:
        self.ws.send_binary(data.encode() if isinstance(data, str) else data)

    def _receive(self, deadline: float) -> bytes | None:
        """One frame's payload; None once the connection is closed; fail at ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.ws.settimeout(remaining)
        try:
            opcode, payload = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            raise TimeoutError from None
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            self.closed = True
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.closed = True
            return None
        return payload

    def read_until(self, marker: bytes, timeout: float = WS_TIMEOUT) -> bytes:
        """Bytes up to and including the first ``marker``; the rest stays buffered."""
        deadline = time.monotonic() + timeout
        while (at := self.buffer.find(marker)) < 0:
            try:
                payload = None if self.closed else self._receive(deadline)
            except TimeoutError:
                raise AssertionError(
                    f"{marker!r} not received in {timeout} s; got ...{bytes(self.buffer[-300:])!r}"
                ) from None
            if payload is None:
                raise AssertionError(
                    f"closed before {marker!r}; got ...{bytes(self.buffer[-300:])!r}"
                )
            self.buffer += payload
        end = at + len(marker)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    def read_until_close(self, timeout: float = WS_TIMEOUT) -> bytes:
        """Every byte until the server closes the connection."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            try:
                payload = self._receive(deadline)
            except TimeoutError:
                raise AssertionError(
                    f"not closed in {timeout} s; got ...{bytes(self.buffer[-300:])!r}"
                ) from None
            if payload is not None:
                self.buffer += payload
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def first_byte(self, timeout: float = WS_TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while not self.buffer:
            payload = self._receive(deadline)
            assert payload is not None, "closed before the first byte"
            self.buffer += payload
        return bytes(self.buffer[:1])

    def banner(self) -> bytes:
        return self.read_until(PROMPT)

    def drop(self) -> None:
        """Vanish as with a dead network or a killed browser: reset the TCP connection,
        no WebSocket close."""
        sock = self.ws.sock
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        self.closed = True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close(timeout=1)


def seq_numbers(data: bytes) -> list[int]:
    """The whole numbers ``seq`` printed in ``data``, one per complete line."""
    return [int(line) for line in data.split(b"\r\n")[:-1] if line.isdigit()]


def assert_unbroken_run(numbers: list[int], first_at_most: int, last: int) -> None:
    """``numbers`` are ``k, k+1, ..., last`` for some ``k <= first_at_most``."""
    assert numbers, "no numbers"
    assert numbers[0] <= first_at_most, f"starts at {numbers[0]}, after {first_at_most}"
    expected = list(range(numbers[0], last + 1))
    if numbers != expected:
        gaps = [(a, b) for a, b in zip(numbers, numbers[1:], strict=False) if b != a + 1]
        raise AssertionError(f"not one unbroken run {numbers[0]}..{last}: breaks {gaps[:5]}")


def assert_final_line(data: bytes, code: str, text: str | None = None) -> str:
    """``data`` ends with the console's final line carrying ``code``; returns its text."""
    match = FINAL_LINE.search(data)
    assert match, f"no final line at the end of ...{data[-300:]!r}"
    assert match.group(2).decode() == code, match.group(0)
    if text is not None:
        assert match.group(1).decode() == text
    return match.group(1).decode()


def expect_refused(url: str, status: int = 403, **options: Any) -> dict[str, Any]:
    """The WebSocket handshake to ``url`` is refused with HTTP ``status``; its JSON answer."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ws = websocket.create_connection(url, timeout=WS_TIMEOUT, **options)
        ws.close()
    assert refused.value.status_code == status
    return json.loads(refused.value.resp_body)


def seq_bytes(last: int) -> bytes:
    """What ``seq <last>`` prints."""
    return ("\r\n".join(map(str, range(1, last + 1))) + "\r\n").encode()


def echo_works(host: Host, connect: Callable[..., Console], guest: str = "mock-vm") -> None:
    """A new console on ``guest`` echoes, then ends with Ctrl+Q."""
    console = connect(host.open(guest)["ws_url"])
    console.banner()
    console.send("echo alive\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(b"alive\r\n# ")
    console.send(b"\x11")
    console.read_until_close()
