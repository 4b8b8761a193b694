"""Integration helpers: a real ``serialconsole-host --mock`` subprocess, WebSocket consoles.

Every wait is bounded; the only sleeps are short poll intervals inside bounded loops.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import websocket

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 15.0
WS_TIMEOUT = 5.0
POLL_INTERVAL = 0.02

UNICODE_GUEST = "mock-ünïcödé-虚拟机"
PROMPT = b"# "
FINAL_LINE = re.compile(rb"\r\n\[serialconsole\] ([^\r\n]+) \((SCONS\d{4}L)\)\r\n\Z")


# --------------------------------------------------------------------------- waiting


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a true value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(POLL_INTERVAL)


# --------------------------------------------------------------------------- processes


def processes_mentioning(text: str) -> dict[int, str]:
    """Live processes (not zombies) whose command line contains ``text``."""
    needle = text.encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def children(pid: int) -> dict[int, str]:
    """The children of ``pid`` and their state letters (``Z``: a zombie nobody reaped)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found[int(entry.name)] = fields[0]
    return found


def pid_gone(pid: int) -> bool:
    """True when ``pid`` neither runs nor lingers as a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return not Path(f"/proc/{pid}").exists()
    return False


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kill_pids(pids) -> None:
    """SIGKILL the given processes (descendants of a host this suite started)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def assert_pid_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not Path(f"/proc/{pid}").exists(), f"process {pid} is a zombie (not reaped)"


# --------------------------------------------------------------------------- the host


def run_refused_host(run_dir: Path, *options: str) -> subprocess.CompletedProcess:
    """Run ``serialconsole-host --mock`` expecting it to refuse to start; its result."""
    command = [
        sys.executable, "-m", "plugin_serialconsole.host.cli", "--mock",
        "--port", "0", "--ws-port", "0", "--run-dir", str(run_dir), "--auth", "none", *options,
    ]  # fmt: skip
    return subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=READY_TIMEOUT
    )


class Host:
    """One ``serialconsole-host`` subprocess (``--mock`` unless ``source`` says otherwise, e.g.
    ``("--uri", "qemu:///system")``) with its own short run directory.

    ``command`` replaces the default ``python -m plugin_serialconsole.host.cli`` (e.g. an
    installed ``/usr/bin/serialconsole-host``); ``cwd`` is the working directory.
    """

    def __init__(
        self,
        *options: str,
        run_dir: Path | None = None,
        source: tuple[str, ...] = ("--mock",),
        command: Sequence[str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.options = options
        self.source = source
        self.command = list(command or [sys.executable, "-m", "plugin_serialconsole.host.cli"])
        self.cwd = cwd
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix="sc", dir="/tmp"))
        fd, log_name = tempfile.mkstemp(prefix=f"{self.run_dir.name}-", suffix=".log", dir="/tmp")
        os.close(fd)
        self.log_path = Path(log_name)
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.ws_url = ""
        self.baseline: set[int] = set()
        self.exit_code: int | None = None
        self.killed = False

    # lifecycle -------------------------------------------------------------

    def start(self) -> Host:
        command = [
            *self.command, *self.source,
            "--port", "0", "--ws-port", "0", "--run-dir", str(self.run_dir), *self.options,
        ]  # fmt: skip
        if "--auth" not in self.options and "--users-file" not in self.options:
            command += ["--auth", "none"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=self.cwd
            )
        self.url, self.ws_url = self._read_urls()
        self.baseline = set(processes_mentioning(str(self.run_dir)))
        return self

    def _read_urls(self) -> tuple[str, str]:
        """The announced REST (http://) and WebSocket proxy (ws://) URLs."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buffer = b""
        deadline = time.monotonic() + READY_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                lines = [line.decode().strip() for line in buffer.split(b"\n")[:-1]]
                http = [line for line in lines if line.startswith("http://")]
                ws = [line for line in lines if line.startswith("ws://")]
                if http and ws:
                    return http[0], ws[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"host not ready in {READY_TIMEOUT} s:\n{self.log()}")
                if selector.select(remaining):
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        raise AssertionError(
                            f"host exited ({self.proc.wait(5)}) before ready; stdout "
                            f"{buffer!r}\n{self.log()}"
                        )
                    buffer += chunk

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait; SIGKILL if it does not stop in ``timeout`` s. Returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.killed = True
            self.proc.kill()
            self.exit_code = self.proc.wait(STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.exit_code

    def leftovers(self) -> dict[str, Any]:
        """What is left of the host once stopped: processes and files; empty when clean."""
        left: dict[str, Any] = {}
        processes = processes_mentioning(str(self.run_dir))
        if processes:
            left["processes"] = processes
        for name in ("consoles", "tokens"):
            directory = self.run_dir / name
            if directory.is_dir() and (files := sorted(p.name for p in directory.iterdir())):
                left[name] = files
        return left

    def finish(self) -> None:
        """Stop the host (if needed) and check nothing is left; always clean up after."""
        try:
            if self.proc is None:
                return
            was_running = self.running
            code = self.terminate()
            assert not self.killed, f"host ignored SIGTERM for {STOP_TIMEOUT} s\n{self.log()}"
            if was_running:
                assert code == 0, f"host exited {code}\n{self.log()}"
            wait_for(lambda: not self.leftovers(), 5.0, "the stopped host to leave nothing")
        except AssertionError as error:
            raise AssertionError(f"{error}\nleft: {self.leftovers()}\n{self.log()}") from None
        finally:
            kill_pids(processes_mentioning(str(self.run_dir)))
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.log_path.unlink(missing_ok=True)

    # REST ------------------------------------------------------------------

    def api(self, path: str) -> str:
        return self.url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return requests.request(method, self.api(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def open(self, guest: str = "mock-vm", **body: Any) -> dict[str, Any]:
        """POST vms/<guest>/serial; assert 201; the response document."""
        response = self.post(f"vms/{quote(guest, safe='')}/serial", json=body or None)
        assert response.status_code == 201, response.text
        return response.json()

    def close(self, guest: str = "mock-vm", device: str | None = None) -> requests.Response:
        params = {"device": device} if device else None
        return self.delete(f"vms/{quote(guest, safe='')}/serial", params=params)

    def transcript(self, guest: str = "mock-vm", **params: str) -> requests.Response:
        return self.get(f"vms/{quote(guest, safe='')}/serial/transcript", params=params or None)

    def sessions(self) -> list[dict[str, Any]]:
        response = self.get("sessions")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_session_state(self, state: str, guest: str = "mock-vm", device: str = "serial0"):
        def find():
            for session in self.sessions():
                if (session["guest"], session["device"], session["state"]) == (
                    guest, device, state
                ):  # fmt: skip
                    return session
            return None

        return wait_for(find, 5.0, f"session {guest}/{device} {state}")

    def wait_for_no_session(self, guest: str, device: str) -> None:
        def gone():
            return not [s for s in self.sessions() if (s["guest"], s["device"]) == (guest, device)]

        wait_for(gone, 5.0, f"session {guest}/{device} to end")

    # cleanliness -------------------------------------------------------------

    def dir_entries(self) -> dict[str, list[str]]:
        return {
            name: sorted(p.name for p in (self.run_dir / name).iterdir())
            for name in ("consoles", "tokens")
        }

    def assert_dirs_empty(self) -> None:
        assert self.dir_entries() == {"consoles": [], "tokens": []}

    def close_all(self) -> None:
        """DELETE every open session (one that ends meanwhile may answer 404)."""
        for session in self.sessions():
            response = self.delete(
                f"vms/{session['uuid']}/serial", params={"device": session["device"]}
            )
            assert response.status_code in (204, 404), response.text

    def idle_state(self) -> dict[str, Any]:
        """Sessions, files and extra processes the host has now; all empty when idle."""
        extra = set(processes_mentioning(str(self.run_dir))) - self.baseline
        return {"sessions": self.sessions(), **self.dir_entries(), "processes": sorted(extra)}

    def assert_idle(self, timeout: float = 5.0) -> None:
        """Within ``timeout``: no session, no socket, no token, no process beyond the baseline."""
        empty = {"sessions": [], "consoles": [], "tokens": [], "processes": []}
        deadline = time.monotonic() + timeout
        while (state := self.idle_state()) != empty:
            if time.monotonic() >= deadline:
                raise AssertionError(f"host not idle after {timeout} s: {state}")
            time.sleep(POLL_INTERVAL)


def shared_host(*options: str, source: tuple[str, ...] = ("--mock",)) -> Iterator[Host]:
    """Body of a module-scoped host fixture: start, yield, SIGTERM and check clean."""
    host = Host(*options, source=source)
    try:
        host.start()
        yield host
    finally:
        host.finish()


def idle_between_tests(shared: Host) -> Iterator[Host]:
    """Body of a function-scoped fixture over a shared host: idle before the test; after
    it, its sessions are ended and the host must be back to idle (no session, socket,
    token or process beyond the host and websockify)."""
    shared.assert_idle()
    yield shared
    assert shared.running, f"the shared host died\n{shared.log()}"
    shared.close_all()
    shared.assert_idle()


# --------------------------------------------------------------------------- consoles


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


def expect_refused(url: str, status: int = 403, **options: Any) -> None:
    """The WebSocket handshake to ``url`` is refused with HTTP ``status``."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ws = websocket.create_connection(url, timeout=WS_TIMEOUT, **options)
        ws.close()
    assert refused.value.status_code == status


# --------------------------------------------------------------------------- the web UI


def ui_without_xterm(directory: Path) -> Path:
    """A copy of the checkout's ui/ where xterm.js never arrived (npm ci not run): pages,
    scripts, styles and page catalogs, no node_modules. Returns ``directory``."""
    source = Path(__file__).resolve().parents[2] / "ui"
    shutil.copytree(source, directory, ignore=shutil.ignore_patterns("node_modules"))
    return directory


def config_file(directory: Path, section: str, **keys: str) -> Path:
    """``directory/serialconsole.conf`` with ``keys`` in ``[section]``; its path."""
    path = directory / "serialconsole.conf"
    lines = [f"[{section}]", *(f"{key} = {value}" for key, value in keys.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- operators

SESSION_COOKIE = "serialconsole_session"
OPERATOR_PASSWORD = "s3cret-operator-pw"


def write_users_file(path: Path, *names: str) -> Path:
    """A users file (mode 0600) of operators ``names``, each with ``OPERATOR_PASSWORD``."""
    from plugin_serialconsole.host.passwords import hash_password

    path.write_text("".join(f"{name}:{hash_password(OPERATOR_PASSWORD)}\n" for name in names))
    path.chmod(0o600)
    return path


def auth_url(host: Host, path: str) -> str:
    return host.url.split("/plugins/")[0] + "/auth/" + path


def login(
    host: Host, name: str = "alice", password: str = OPERATOR_PASSWORD, **headers: str
) -> requests.Session:
    """A browser's login session: its cookie, and its CSRF token sent with every request."""
    browser = requests.Session()
    response = browser.post(
        auth_url(host, "login"),
        json={"username": name, "password": password},
        headers=headers,
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    browser.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return browser


def connect(ws_url: str, cookie: str | None = None) -> Console:
    """A console over the WebSocket, with the login session's cookie value if given."""
    options = {"cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    return Console(websocket.create_connection(ws_url, timeout=WS_TIMEOUT, **options))
