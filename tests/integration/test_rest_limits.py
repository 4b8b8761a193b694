"""The REST port under connection attacks (issue 13): clients that connect and send
nothing, or trickle a request a byte at a time, must not keep an operator waiting.

Attackers bind to other loopback addresses (127.0.0.2 …) than the operator (127.0.0.1)."""

from __future__ import annotations

import json
import selectors
from pathlib import Path

import requests

from .helpers import wait_for
from .rawhttp import (
    connect_from,
    held_from_attackers,
    hold_connections,
    open_fds,
    peers,
    raw_http,
    raw_request,
    read_response,
    still_open,
    threads,
)

IDLE = 500
TRICKLING = 50
OPERATOR_TIMEOUT = 5.0  # only bounds the wait: what counts is an answer while attacked
PARTIAL_HEAD = b"GET /plugins/serialconsole/vms HTTP/1.1\r\nHost: attacker\r\n"


def write_config(tmp_path: Path, **server: object) -> str:
    path = tmp_path / "serialconsole.conf"
    path.write_text("[server]\n" + "".join(f"{k} = {v}\n" for k, v in server.items()))
    return str(path)


def assert_json_error(answer: tuple[int, dict, bytes], status: int, code: str) -> None:
    got, headers, body = answer
    assert got == status, (got, body)
    assert headers["content-type"].startswith("application/json"), headers
    document = json.loads(body)
    assert document["code"] == code and document["reason"], document


def test_operator_is_answered_while_idle_and_trickling_connections_are_held(start_host, tmp_path):
    # A head deadline longer than the test, so every attack connection is still open
    # (not yet answered 408) when the operator's answer is checked.
    host = start_host("--config", write_config(tmp_path, header_timeout=120))
    pid = host.proc.pid
    assert host.get("vms", headers={"Connection": "close"}).status_code == 200
    wait_for(lambda: not peers(pid), 5.0, "no connection to the host")
    baseline = open_fds(pid), threads(pid)  # after whatever a first request sets up
    idle, trickling = hold_connections(host.url, IDLE, TRICKLING, PARTIAL_HEAD[:1])
    try:
        wait_for(
            lambda: held_from_attackers(pid) == IDLE + TRICKLING,
            10.0,
            "the host to have accepted every attack connection",
        )
        for position in range(1, 4):  # the trickle goes on
            for sock in trickling:
                sock.sendall(PARTIAL_HEAD[position : position + 1])

        response = requests.get(
            host.api("vms"), headers={"Connection": "close"}, timeout=OPERATOR_TIMEOUT
        )

        assert response.status_code == 200, response.text
        assert len(response.json()) == 6  # the mock guests
        assert all(still_open(sock) for sock in idle + trickling), "the attack was cut short"
    finally:
        for sock in idle + trickling:
            sock.close()
    wait_for(
        lambda: (
            held_from_attackers(pid) == 0
            and open_fds(pid) <= baseline[0]
            and threads(pid) == baseline[1]
        ),
        10.0,
        f"the host's fds and threads back to {baseline}",
    )


def test_a_head_trickled_byte_by_byte_is_cut_at_its_deadline(start_host, tmp_path):
    """cheroot's timeout is per read: a byte every few seconds held a worker for ever."""
    host = start_host("--config", write_config(tmp_path, header_timeout=2))
    with connect_from(host.url, "127.0.0.7") as sock, selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        sent = 0
        while not selector.select(0.5):  # a byte every half second until answered
            assert sent < 20, "no answer after 10 s of trickling"
            sock.sendall(PARTIAL_HEAD[sent : sent + 1])
            sent += 1
        assert_json_error(read_response(sock), 408, "SCONS0040E")
    assert host.get("vms").status_code == 200


def test_a_body_that_does_not_arrive_is_cut_at_its_deadline(start_host, tmp_path):
    host = start_host("--config", write_config(tmp_path, body_timeout=1))
    head = raw_request(
        "POST",
        host.api("vms/mock-vm/serial"),
        ["Content-Type: application/json", "Content-Length: 21"],
        b'{"device": ',
    )
    with connect_from(host.url, "127.0.0.8") as sock:
        sock.sendall(head)
        assert_json_error(read_response(sock), 408, "SCONS0040E")
    assert host.sessions() == []


def test_one_address_gets_its_share_of_connections_and_no_more(start_host, tmp_path):
    host = start_host("--config", write_config(tmp_path, connections_per_address=5))
    pid = host.proc.pid
    request = raw_request("GET", host.api("vms"))
    held = [connect_from(host.url, "127.0.0.9") for _ in range(5)]
    try:
        wait_for(lambda: held_from_attackers(pid) == 5, 5.0, "the host to accept all five")
        assert_json_error(raw_http(host.url, request, "127.0.0.9"), 503, "SCONS0042E")
        assert raw_http(host.url, request, "127.0.0.10")[0] == 200
        assert host.get("vms").status_code == 200
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: held_from_attackers(pid) == 0, 5.0, "the host to close the five")
    assert raw_http(host.url, request, "127.0.0.9")[0] == 200


def test_all_clients_together_get_max_connections_and_no_more(start_host, tmp_path):
    host = start_host("--config", write_config(tmp_path, max_connections=3))
    pid = host.proc.pid
    request = raw_request("GET", host.api("vms"))
    # cherrypy's own check that the port is open may still be counted at first.
    wait_for(lambda: not peers(pid), 5.0, "no connection to the host but the test's")
    held = [connect_from(host.url, f"127.0.0.{20 + n}") for n in range(3)]
    try:
        wait_for(lambda: held_from_attackers(pid) == 3, 5.0, "the host to accept all three")
        assert_json_error(raw_http(host.url, request, "127.0.0.30"), 503, "SCONS0044E")
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: held_from_attackers(pid) == 0, 5.0, "the host to close the three")
    assert raw_http(host.url, request, "127.0.0.30")[0] == 200


def test_a_client_expecting_100_continue_gets_it_before_sending_the_body(start_host):
    """The gate holds the request until the body is in, so it must say "go on" itself."""
    host = start_host()
    head = raw_request(
        "POST",
        host.api("vms/mock-vm/serial"),
        ["Content-Type: application/json", "Content-Length: 21", "Expect: 100-continue"],
    )
    with connect_from(host.url) as sock:
        sock.sendall(head)
        assert read_response(sock)[0] == 100
        sock.sendall(b'{"device": "serial0"}')
        answer = b""
        while chunk := sock.recv(65536):  # until the host closes (Connection: close)
            answer += chunk
    continued = b"HTTP/1.1 100 Continue\r\n\r\n"
    while answer.startswith(continued):  # cheroot says it once more on reading the head
        answer = answer[len(continued) :]
    assert answer.startswith(b"HTTP/1.1 201 "), answer
    assert host.close().status_code == 204


def test_a_trusted_proxy_is_not_capped_per_address(start_host, tmp_path):
    """Behind nginx everybody comes from the proxy's address: capping it caps everyone."""
    config = write_config(tmp_path, connections_per_address=2)
    host = start_host("--config", config, "--trusted-proxy", "127.0.0.11")
    pid = host.proc.pid
    request = raw_request("GET", host.api("vms"))
    held = [connect_from(host.url, "127.0.0.11") for _ in range(3)]
    held += [connect_from(host.url, "127.0.0.12") for _ in range(2)]
    try:
        wait_for(lambda: held_from_attackers(pid) == 5, 5.0, "the host to accept all five")
        assert raw_http(host.url, request, "127.0.0.11")[0] == 200
        assert_json_error(raw_http(host.url, request, "127.0.0.12"), 503, "SCONS0042E")
    finally:
        for sock in held:
            sock.close()
