"""Raw HTTP for the tests of the REST port's limits: requests written byte for byte,
connections from other loopback addresses, and what a host process holds."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from .helpers import HTTP_TIMEOUT

# --------------------------------------------------------------------------- raw HTTP


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def connect_from(url: str, source: str = "127.0.0.1", timeout: float = HTTP_TIMEOUT):
    """A TCP connection to ``url``'s server from the loopback address ``source``."""
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(host_port(url))
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response from ``sock``: status, headers (lower-case names), body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a whole response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed in the body: {body!r}"
        body += chunk
    return int(status_line.split()[1]), headers, body


def raw_http(url: str, request: bytes, source: str = "127.0.0.1") -> tuple[int, dict, bytes]:
    """Send ``request``, bytes as they are, to ``url``'s server; its response."""
    with connect_from(url, source) as sock:
        sock.sendall(request)
        return read_response(sock)


def raw_request(method: str, url: str, headers: Sequence[str] = (), body: bytes = b"") -> bytes:
    """The bytes of an HTTP/1.1 request for ``url``; ``headers`` as written ("Name: value")."""
    parts = urlsplit(url)
    lines = [f"{method} {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", *headers]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode() + body


# --------------------------------------------------------------------------- connection attacks

PER_ADDRESS = 20  # [server] connections_per_address's default


def attacker_address(number: int, first: int) -> str:
    """Loopback addresses from 127.0.0.<first>, PER_ADDRESS connections each."""
    return f"127.0.0.{first + number // PER_ADDRESS}"


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def peers(pid: int) -> list[str]:
    """The peer addresses of the IPv4 TCP connections process ``pid`` holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, port = fields[2].split(":")
        if fields[9] in inodes and int(port, 16):  # a listening socket has no peer
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def held_from_attackers(pid: int) -> int:
    """TCP connections process ``pid`` holds whose peer is not 127.0.0.1 (the operator)."""
    return sum(peer != "127.0.0.1" for peer in peers(pid))


def hold_connections(url: str, idle: int, trickling: int, first_byte: bytes) -> tuple[list, list]:
    """``idle`` connections that send nothing and ``trickling`` ones that sent
    ``first_byte`` of a request head, from loopback addresses other than 127.0.0.1."""
    held_idle, held_trickling = [], []
    try:
        held_idle += [connect_from(url, attacker_address(n, 2)) for n in range(idle)]
        for number in range(trickling):
            sock = connect_from(url, attacker_address(number, 100))
            sock.sendall(first_byte)
            held_trickling.append(sock)
    except BaseException:
        for sock in held_idle + held_trickling:
            sock.close()
        raise
    return held_idle, held_trickling


def still_open(sock: socket.socket) -> bool:
    """Neither answered nor closed by the server."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    return False
