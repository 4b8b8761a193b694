"""Shared helpers for the unit tests."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from plugin_serialconsole.console.spec import ConsoleSettings, ConsoleSpec
from plugin_serialconsole.consoles import Reason

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 5.0
# A console process's settings in these tests; a test may change any of them.
TEST_LIMITS = {"token_ttl": 5, "idle_timeout": 0, "grace": 0, "ring_size": 262144}


@pytest.fixture
def short_dir():
    """A directory with a short path, so Unix socket paths fit in 107 bytes."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="sc"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _receive(sock: socket.socket, enough, timeout: float, waiting_for: str) -> tuple[bytes, bool]:
    """Receive until ``enough(data)`` or end of file; return (data, reached EOF)."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while not enough(data):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{waiting_for} not received; got {bytes(data)!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return bytes(data), True
        data += chunk
    return bytes(data), False


def recv_until(sock: socket.socket, marker: bytes, timeout: float = TIMEOUT) -> bytes:
    """Receive from ``sock`` until ``marker`` was seen; fail after ``timeout`` seconds."""
    data, eof = _receive(sock, lambda d: marker in d, timeout, repr(marker))
    if eof:
        raise AssertionError(f"EOF before {marker!r}; got {data!r}")
    return data


def recv_until_eof(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    """Everything ``sock`` sends until its end of file; fail after ``timeout`` seconds."""
    return _receive(sock, lambda d: False, timeout, "EOF")[0]


class ConsoleProcess:
    """A ``python -m plugin_serialconsole.console`` subprocess on the simulated guest."""

    def __init__(self, socket_path: Path, **options: object) -> None:
        self.socket_path = socket_path
        limits = {key: options.pop(key, value) for key, value in TEST_LIMITS.items()}
        spec = ConsoleSpec(
            ConsoleSettings(**limits), "test:///default", "U", "mock-vm", "serial0", socket_path,
            **options,
        )  # fmt: skip
        command = [sys.executable, *spec.argv()]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            bufsize=0,
        )
        self._buffer = bytearray()
        self.clients: list[socket.socket] = []

    def event(self, timeout: float = TIMEOUT) -> dict:
        """The next JSON line the process reports on its stdout."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no event; partial stdout {bytes(self._buffer)!r}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"stdout closed; stderr: {self.stderr()!r}")
                self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return json.loads(line)

    recv_until = staticmethod(recv_until)
    recv_until_eof = staticmethod(recv_until_eof)

    def connect(self, name: str | None = None) -> socket.socket:
        """A client of the first socket, or of the invitation ``name``."""
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.clients.append(client)
        client.settimeout(TIMEOUT)
        client.connect(str(self.socket_path if name is None else self.socket_path.parent / name))
        return client

    def invite(self, name: str, mode: str = "view", ttl: float = 5, **fields) -> dict:
        """Ask for one more socket; the process's answer."""
        line = {"event": "invite", "socket": name, "mode": mode, "ttl": ttl, **fields}
        self.send_stdin(json.dumps(line).encode() + b"\n")
        return self.event()

    def send_stdin(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> bytes:
        if self.proc.poll() is None:
            return b"(still running)"
        return self.proc.stderr.read()

    def kill(self) -> None:
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(TIMEOUT)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            pipe.close()


@pytest.fixture
def console_process(short_dir):
    """Factory starting console processes; all are killed at the end, pass or fail."""
    started: list[ConsoleProcess] = []

    def start(socket: str = "c", **options: object) -> ConsoleProcess:
        process = ConsoleProcess(short_dir / socket, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


# ------------------------------------------------------------- a console process's life


def ready(process):
    assert process.event() == {"event": "ready", "socket": "c", "replay": 0}
    return process


def connected(process):
    """Ready process + connected client that has read the banner and the first prompt."""
    ready(process)
    client = process.connect()
    assert process.event() == {"event": "connected", "socket": "c", "mode": "write"}
    assert b"mock-vm" in process.recv_until(client, b"# ")
    return client


def assert_ended(process, client, reason):
    """The client gets a final line naming ``reason``'s message code, then EOF; the process
    ends cleanly and reports ``reason``."""
    code = Reason(reason).message_code
    rest = process.recv_until_eof(client)
    last_line = rest.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
    assert b"[serialconsole]" in last_line
    assert f"({code})".encode() in last_line
    assert rest.endswith(b"\r\n")
    assert process.wait() == 0
    event = process.event()
    assert event["event"] == "ended"
    assert event["reason"] == reason
    assert not process.socket_path.exists()
    return rest
