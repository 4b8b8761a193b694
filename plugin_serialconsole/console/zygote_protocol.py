"""How the host and the zygote talk: one JSON message per SOCK_SEQPACKET datagram.

The host sends a request, the console's ``ConsoleSpec`` in its JSON form, with the
child's stdin and stdout as two file descriptors; the zygote answers ``{"pid": N}`` or
``{"error": "..."}``. When a child ends, the zygote reaps it and tells the host
``{"exited": N, "status": CODE}`` (``CODE`` as ``subprocess`` has it: negative for a
signal). Both ends import this module.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

from plugin_serialconsole.console.spec import ConsoleSpec, SpecError

MAX_MESSAGE = 64 * 1024
REQUEST_FDS = 2  # the child's stdin and stdout


class Refused(Exception):
    """A request the zygote does not carry out."""


@dataclass(frozen=True)
class Started:
    pid: int


@dataclass(frozen=True)
class Failed:
    error: str


@dataclass(frozen=True)
class Exited:
    pid: int
    status: int


def send_request(sock: socket.socket, spec: ConsoleSpec, fds: list[int]) -> None:
    socket.send_fds(sock, [spec.to_json().encode()], fds)


def receive_request(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """One request and its file descriptors; None at end of file."""
    data, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, REQUEST_FDS)
    if not data and not fds:
        return None
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        return b"", fds  # refused as malformed
    return data, fds


def parse_request(data: bytes, fds: list[int], sockets_dir: Path) -> ConsoleSpec:
    """The console a request asks for; only a console whose socket is in ``sockets_dir``
    is started, nothing else is ever run. The request is UTF-8, as the host writes it
    (the child's command line shows it as it came)."""
    try:
        spec = ConsoleSpec.from_json(data.decode())
    except UnicodeDecodeError:
        raise Refused("spec: not UTF-8") from None
    except SpecError as error:
        raise Refused(f"spec: {error}") from None
    if spec.sockets_dir != sockets_dir:
        raise Refused("spec: socket outside the sockets directory")
    if len(fds) != REQUEST_FDS:
        raise Refused("expected stdin and stdout")
    return spec


def started(pid: int) -> bytes:
    return json.dumps({"pid": pid}).encode()


def failed(error: str) -> bytes:
    return json.dumps({"error": error}).encode()


def exited(pid: int, status: int) -> bytes:
    return json.dumps({"exited": pid, "status": status}).encode()


def parse_answer(data: bytes) -> Started | Failed | Exited:
    """What the zygote said; raises ValueError for anything else."""
    message = json.loads(data)
    try:
        if "exited" in message:
            return Exited(int(message["exited"]), int(message["status"]))
        if "pid" in message:
            return Started(int(message["pid"]))
        return Failed(str(message["error"]))
    except (KeyError, TypeError):
        raise ValueError(f"not a zygote message: {message!r}") from None
