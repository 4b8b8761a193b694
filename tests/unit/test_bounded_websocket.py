"""The WebSocket message bound: 1 MiB passes, one byte more closes with 1009."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
from collections.abc import Iterator

import pytest
from websockify.websocket import WebSocketWantReadError

from plugin_serialconsole.bridge.handler import MAX_MESSAGE, TOO_BIG, BoundedWebSocket

MASK = b"\x01\x02\x03\x04"


def client_frame(payload: bytes, opcode: int = 0x2, fin: bool = True) -> bytes:
    """A masked frame as a browser sends it."""
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        header = struct.pack(">BB", first, 0x80 | len(payload))
    elif len(payload) < 65536:
        header = struct.pack(">BBH", first, 0x80 | 126, len(payload))
    else:
        header = struct.pack(">BBQ", first, 0x80 | 127, len(payload))
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload[:16])) + payload[16:]
    return header + MASK + masked  # only the start is masked: the tests compare lengths


@pytest.fixture
def pair() -> Iterator[tuple[BoundedWebSocket, socket.socket]]:
    server, client = socket.socketpair()
    server.setblocking(False)
    ws = BoundedWebSocket(None)  # a handler is needed only for the HTTP handshake
    ws.socket, ws.client = server, False  # what accept() sets after the HTTP handshake
    yield ws, client
    client.close()
    server.close()


def receive(ws: BoundedWebSocket) -> list[bytes | None]:
    """Every message the bytes in the socket hold now (None: the connection closed)."""
    messages: list[bytes | None] = []
    while True:
        try:
            message = ws.recvmsg()
        except WebSocketWantReadError:
            if select.select([ws.socket], [], [], 0)[0]:
                continue
            return messages
        messages.append(message)
        if message is None:
            return messages


def close_code(client: socket.socket) -> int:
    client.settimeout(5)
    data = client.recv(64)
    assert data[0] == 0x88, data  # a close frame, the first thing the server sends
    return struct.unpack(">H", data[2:4])[0]


def send_and_receive(ws, client, data: bytes) -> list[bytes | None]:
    messages = []
    client.setblocking(False)
    view = memoryview(data)
    while view:
        with contextlib.suppress(BlockingIOError):
            view = view[client.send(view) :]
        messages += receive(ws)
    return messages if None in messages else messages + receive(ws)


def test_a_message_of_1_mib_passes(pair):
    ws, client = pair
    messages = send_and_receive(ws, client, client_frame(b"x" * MAX_MESSAGE))
    assert [len(m) for m in messages] == [MAX_MESSAGE]


def test_one_byte_more_closes_with_1009_and_buffers_nothing(pair):
    ws, client = pair
    largest_buffer = 0
    original_recv = ws._recv

    def recv_and_measure() -> bool:
        nonlocal largest_buffer
        more = original_recv()
        largest_buffer = max(largest_buffer, len(ws._recv_buffer))
        return more

    ws._recv = recv_and_measure
    # The client's close reply comes after the frame it was sending when the 1009 came.
    frames = client_frame(b"x" * (MAX_MESSAGE + 1)) + client_frame(struct.pack(">H", 1009), 0x8)
    assert send_and_receive(ws, client, frames) == [None]
    assert (ws.close_code, largest_buffer < 64 * 1024) == (TOO_BIG, True)
    client.setblocking(True)
    assert close_code(client) == TOO_BIG


def test_fragments_adding_up_to_more_than_1_mib_close_with_1009(pair):
    ws, client = pair
    piece = b"y" * (256 * 1024)
    frames = client_frame(piece, fin=False) + b"".join(
        client_frame(piece, opcode=0x0, fin=False) for _ in range(4)
    )
    assert send_and_receive(ws, client, frames) == []
    assert len(ws._partial_msg) <= MAX_MESSAGE
    client.setblocking(True)
    assert close_code(client) == TOO_BIG


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 7, 8, 1000, MAX_MESSAGE])
def test_unmasking_without_numpy_gives_the_payload(length: int) -> None:
    payload = bytes(i * 7 % 251 for i in range(length))
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    assert BoundedWebSocket(None)._unmask(masked, MASK) == payload
