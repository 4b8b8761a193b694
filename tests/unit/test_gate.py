"""The connection gate's per-address cap (host.gate), with reverse proxies exempt."""

from __future__ import annotations

import json
import queue
import socket

import pytest

from plugin_serialconsole.host import framing
from plugin_serialconsole.host.forwarded import TrustedProxies
from plugin_serialconsole.host.gate import ConnectionGate, GateLimits, error_response


class NoReadAhead:
    def has_data(self) -> bool:
        return False


class FakeConnection:
    """What the gate uses of cheroot's HTTPConnection: a socket, an address, close()."""

    rfile = NoReadAhead()

    def __init__(self, gate: ConnectionGate, address: str | None) -> None:
        self.socket, self.peer = socket.socketpair()
        self.remote_addr = address
        self.counted = False
        self.counted_address: str | None = None
        self.gate = gate

    def close(self) -> None:
        self.socket.close()
        if self.counted:
            self.gate.forget(self)

    def answer(self) -> bytes:
        """What the gate sent, up to its close (b"" if it closed at once)."""
        self.peer.settimeout(1)
        try:
            return self.peer.recv(65536)
        except ConnectionResetError:  # closed with our bytes unread
            return b""


@pytest.fixture
def admitted():
    made: list[FakeConnection] = []

    def admit(gate: ConnectionGate, address: str | None) -> FakeConnection | None:
        conn = FakeConnection(gate, address)
        made.append(conn)
        return conn if gate.admit(conn) else None

    yield admit
    for conn in made:
        conn.socket.close()
        conn.peer.close()


def test_an_address_over_its_cap_is_refused_until_one_closes(admitted):
    gate = ConnectionGate(GateLimits(per_address=2), dispatch=None)
    first = admitted(gate, "192.0.2.1")
    assert first and admitted(gate, "192.0.2.1")
    assert admitted(gate, "192.0.2.2")  # another address has its own count
    refused_connection = FakeConnection(gate, "192.0.2.1")
    assert not gate.admit(refused_connection)
    head, _, body = refused_connection.answer().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ")
    assert json.loads(body)["code"] == "SCONS0042E"
    first.close()
    assert gate.open_connections() == (2, {"192.0.2.1": 1, "192.0.2.2": 1})
    assert admitted(gate, "192.0.2.1")


def test_trusted_proxies_and_unix_peers_have_no_cap(admitted):
    proxies = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8")
    gate = ConnectionGate(GateLimits(per_address=1, proxies=proxies), None)
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "10.1.2.3", "10.1.2.3", None, None):
        assert admitted(gate, address), address
    assert admitted(gate, "127.0.0.2") and not admitted(gate, "127.0.0.2")
    assert gate.open_connections() == (7, {"127.0.0.2": 1})


def test_all_addresses_together_have_a_cap_too_proxies_included(admitted):
    proxies = TrustedProxies.parse("127.0.0.1")
    gate = ConnectionGate(GateLimits(per_address=5, total=3, proxies=proxies), None)
    held = [admitted(gate, address) for address in ("127.0.0.1", "127.0.0.1", "192.0.2.1")]
    assert all(held)
    refused_connection = FakeConnection(gate, "192.0.2.2")
    assert not gate.admit(refused_connection)
    assert b'"SCONS0044E"' in refused_connection.answer()
    held[0].close()
    assert admitted(gate, "192.0.2.2")
    assert gate.open_connections() == (3, {"192.0.2.1": 1, "192.0.2.2": 1})


def test_error_responses_are_whole_json_answers():
    head, _, body = error_response(408, "SCONS0040E", {"seconds": 10}).partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 408 Request Timeout"
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {
        "code": "SCONS0040E",
        "reason": "The request did not arrive within 10 seconds.",
    }


def test_a_connection_that_breaks_the_gate_is_dropped_and_the_gate_goes_on(admitted, monkeypatch):
    dispatched = queue.Queue()
    gate = ConnectionGate(GateLimits(), dispatched.put)
    gate.start()
    try:
        real_examine = framing.examine

        def examine(data, limits):
            if data.startswith(b"BOOM"):
                raise RuntimeError("a bug")
            return real_examine(data, limits)

        monkeypatch.setattr(framing, "examine", examine)
        broken, good = admitted(gate, "192.0.2.1"), admitted(gate, "192.0.2.2")
        gate.hold(broken)
        broken.peer.sendall(b"BOOM")
        assert broken.answer() == b""  # closed
        gate.hold(good)
        good.peer.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert dispatched.get(timeout=5) is good
    finally:
        gate.stop()
