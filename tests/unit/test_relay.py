"""The proxy relays every console connection in its one event loop: backpressure, clean
closes, and an error in one connection's code ends that connection only."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from plugin_serialconsole.bridge.accept import MAX_HEAD, AcceptLoop, HandlerLimits
from plugin_serialconsole.bridge.handler import BoundedWebSocket
from plugin_serialconsole.bridge.relay import READ, WRITE, Relay

from .test_bounded_websocket import client_frame

CHUNK = 4096
TIMEOUT = 10.0


def server_websocket(sock: socket.socket) -> BoundedWebSocket:
    ws = BoundedWebSocket(None)
    ws.socket, ws.client = sock, False  # what accept() sets after the HTTP handshake
    return ws


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """(opcode, payload) of the next unmasked frame the proxy sent."""

    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            assert chunk, "closed"
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", exactly(8))[0]
    return first & 0x0F, exactly(length)


@pytest.fixture
def relay() -> Iterator[tuple[Relay, socket.socket, socket.socket]]:
    """A relay, the browser's end of its WebSocket and the console's end of its socket."""
    proxy_side, browser = socket.socketpair()
    target, console = socket.socketpair()
    relay = Relay(server_websocket(proxy_side), target, "en_US", "console", CHUNK)
    yield relay, browser, console
    relay.abort()
    browser.close()
    console.close()


def drive(relay: Relay, rounds: int) -> None:
    """Let the relay do what it waits for as if every socket were ready, ``rounds`` times."""
    for _ in range(rounds):
        client, target = relay.interest()
        if target:
            relay.on_target(target)
        if client:
            relay.on_client(client)


def test_a_browser_that_reads_nothing_holds_the_console_back(relay) -> None:
    relay, browser, console = relay
    console.setblocking(False)
    flooded = 0
    while True:  # the console writes until its socket is full
        try:
            flooded += console.send(b"x" * 65536)
        except BlockingIOError:
            break
    drive(relay, 200)
    client, target = relay.interest()
    assert client & WRITE and not target & READ  # waits for the browser, reads no output
    assert len(relay.ws._send_buffer) <= CHUNK + 14  # one chunk (and its frame header) held
    browser.settimeout(TIMEOUT)
    assert read_frame(browser)[0] == 0x2  # and what was held goes out once it reads


def test_the_browsers_last_input_reaches_the_console_before_the_close(relay) -> None:
    relay, browser, console = relay
    browser.sendall(client_frame(b"last words") + client_frame(struct.pack(">H", 1000), 0x8))
    drive(relay, 5)
    assert relay.done()
    console.settimeout(TIMEOUT)
    assert console.recv(100) == b"last words"
    assert console.recv(100) == b""  # then the console's connection ends
    browser.settimeout(TIMEOUT)
    assert read_frame(browser) == (0x8, struct.pack(">H", 1000))


def test_a_console_that_ends_closes_the_websocket_after_its_last_output(relay) -> None:
    relay, browser, console = relay
    console.sendall(b"bye\r\n")
    console.close()
    drive(relay, 5)
    assert relay.done()
    browser.settimeout(TIMEOUT)
    assert read_frame(browser) == (0x2, b"bye\r\n")
    assert read_frame(browser) == (0x8, struct.pack(">H", 1000) + b"Target closed")


def drive_ready(relay: Relay, rounds: int) -> None:
    """Let the relay do what it waits for, for the events its sockets really have."""
    for _ in range(rounds):
        if relay.done():
            return
        handlers = (relay.on_client, relay.on_target)
        socks = (relay.client, relay.target)
        for sock, wanted, handle in zip(socks, relay.interest(), handlers, strict=True):
            if wanted:
                poll = select.poll()
                poll.register(sock, wanted)
                for _, events in poll.poll(0):
                    handle(events)


def test_a_close_from_the_browser_while_its_socket_is_full_ends_the_connection(relay) -> None:
    relay, browser, console = relay
    console.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            console.send(b"x" * 65536)
    browser.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    drive_ready(relay, 50)  # the browser reads nothing: its socket fills up
    assert relay.ws.pending_output()
    browser.sendall(client_frame(struct.pack(">H", 1000), 0x8))
    drive_ready(relay, 50)
    assert relay.closing  # its answer waits for room, the console's output is done with
    browser.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while browser.recv(65536):
            drive_ready(relay, 5)
    drive_ready(relay, 50)
    assert relay.done()


class FailingRelay(Relay):
    def on_client(self, events: int) -> None:
        raise RuntimeError("a bug in this connection's code")


def test_an_error_in_one_connections_code_ends_only_that_one(caplog) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    lifeline_r, lifeline_w = os.pipe()
    consoles: dict[bool, socket.socket] = {}  # by whether its relay fails
    seen: dict[str, object] = {}

    def serve(sock: socket.socket, address: tuple) -> Relay:
        head = sock.recv(MAX_HEAD, socket.MSG_PEEK)  # complete: the loop checked
        sock.recv(head.index(b"\r\n\r\n") + 4)
        if b"/crash" in head:
            raise RuntimeError("a bug in the handshake")
        target, console = socket.socketpair()
        failing = b"/fail" in head
        consoles[failing] = console
        kind = FailingRelay if failing else Relay
        return kind(server_websocket(sock), target, "en_US", "console", CHUNK)

    def clients() -> None:
        """One connection whose code fails, one that must go on meanwhile; then the
        lifeline ends the loop (the loop needs the main thread for its signals)."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as crash:
                crash.sendall(b"GET /crash HTTP/1.1\r\n\r\n")
                seen["crash"] = crash.makefile("rb").read()
            with (
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as bad,
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as good,
            ):
                good.sendall(b"GET /good HTTP/1.1\r\n\r\n" + client_frame(b"before"))
                bad.sendall(b"GET /fail HTTP/1.1\r\n\r\n" + client_frame(b"boom"))
                seen["bad"] = read_frame(bad)
                try:
                    seen["bad_after"] = bad.recv(100)
                except ConnectionResetError:  # closed with its frame unread
                    seen["bad_after"] = b""
                good.sendall(client_frame(b"after"))
                consoles[False].settimeout(TIMEOUT)
                received = b""
                while len(received) < len(b"beforeafter"):
                    received += consoles[False].recv(100)
                seen["console"] = received
                consoles[False].sendall(b"still here")
                seen["good"] = read_frame(good)
        except Exception as error:  # noqa: BLE001 (reported by the assertions below)
            seen["error"] = error
        finally:
            os.close(lifeline_w)  # the host is gone: the loop ends

    thread = threading.Thread(target=clients)
    thread.start()
    try:
        AcceptLoop(listener, lifeline_r, serve, HandlerLimits(8, TIMEOUT)).run()
    finally:
        thread.join(TIMEOUT)
        os.close(lifeline_r)
        for console in consoles.values():
            console.close()
    assert "error" not in seen, seen
    assert seen["crash"].startswith(b"HTTP/1.1 500 "), seen["crash"]
    assert b'"code": "SCONS0090E"' in seen["crash"]
    code, payload = seen["bad"]
    assert (code, payload[:2]) == (0x8, struct.pack(">H", 1011))
    assert b"SCONS0074E" in payload
    assert seen["bad_after"] == b""  # that connection was closed
    assert seen["console"] == b"beforeafter"  # the other went on meanwhile
    assert seen["good"] == (0x2, b"still here")
    assert "SCONS0074E" in caplog.text and "a bug in this connection" in caplog.text


def test_a_ping_while_output_waits_is_answered_after_it(relay) -> None:
    relay, browser, console = relay
    console.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:  # the console writes until its socket is full
            console.send(b"x" * 65536)
    drive(relay, 200)  # output now waits for the browser, whose socket is full too
    assert relay.ws.pending_output()
    browser.sendall(client_frame(b"still there?", 0x9))
    relay.on_client(READ)
    assert not relay.done()  # the ping does not end the connection
    browser.settimeout(TIMEOUT)
    frames = [read_frame(browser) for _ in range(3)]  # the browser reads again
    drive_ready(relay, 50)
    while (frame := read_frame(browser))[0] == 0x2:
        frames.append(frame)
        drive_ready(relay, 50)
    assert frame == (0xA, b"still there?")  # the pong, after the output that waited
