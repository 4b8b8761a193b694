"""A one-connection WebSocket server that sends scripted binary frames, then closes.

It lets a browser test split a UTF-8 character (and the server's final line) across frames
exactly where it wants, which the real pipeline does only by chance.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 10.0


def frame(opcode: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    return struct.pack("!BB", 0x80 | opcode, len(payload)) + payload


class ScriptedServer:
    """Accepts one WebSocket client on 127.0.0.1, sends ``frames`` (binary), closes."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/?token=scripted"
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()
        self.thread.join(TIMEOUT)

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
            with connection:
                connection.settimeout(TIMEOUT)
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                key = next(
                    line.split(b":", 1)[1].strip()
                    for line in request.split(b"\r\n")
                    if line.lower().startswith(b"sec-websocket-key:")
                )
                accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
                connection.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                for payload in self.frames:
                    connection.sendall(frame(0x2, payload))
                connection.sendall(frame(0x8, struct.pack("!H", 1000)))
                connection.recv(4096)  # the client's close frame (or EOF)
        except BaseException as error:  # reported by the test
            self.error = error
