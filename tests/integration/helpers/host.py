"""A real ``serialconsole-host`` subprocess for tests and the benchmark: its REST API, its
sessions and what it leaves behind."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from .procs import kill_pids, processes_mentioning, run_dir_leftovers
from .waiting import WaitTimeout, wait_equal, wait_for

READY_TIMEOUT = 20.0
# A starting host waits 2 s at most for its hypervisors' first connects, then serves while
# the rest go on in the background (a TLS or SSH handshake on a shared machine may take longer)
FIRST_CONNECT_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 15.0
SESSION_TIMEOUT = 5.0

UNICODE_GUEST = "mock-ünïcödé-虚拟机"

Session = dict[str, Any]


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
        self.auth: tuple[str, str] | None = None  # HTTP Basic for its REST calls, if set

    # lifecycle -------------------------------------------------------------

    def start(self) -> Host:
        command = [
            *self.command, *self.source,
            "--port", "0", "--ws-port", "0", "--run-dir", str(self.run_dir), *self.options,
        ]  # fmt: skip
        if "--auth" not in self.options and "--users-file" not in self.options:
            command += ["--auth", "none"]
        if "--capture" not in self.options:  # tests of captures ask for them
            command += ["--capture", "none"]
        if "--state-dir" not in self.options:
            command += ["--state-dir", str(self.run_dir / "state")]
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
        """The end of the host's log, for failure messages."""
        return self.full_log()[-8000:]

    def full_log(self) -> str:
        """All the host has logged so far (what a test searches)."""
        try:
            return self.log_path.read_text(errors="replace")
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
        return run_dir_leftovers(self.run_dir)

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
        kwargs.setdefault("auth", self.auth)
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

    def session_of(self, guest: str = "mock-vm", device: str = "serial0") -> Session | None:
        """The session on ``guest``'s ``device`` as the host lists it now, or None."""
        for session in self.sessions():
            if (session["guest"], session["device"]) == (guest, device):
                return session
        return None

    def wait_session(
        self,
        what: str,
        matches: Callable[[Session], bool],
        guest: str = "mock-vm",
        device: str = "serial0",
        timeout: float = SESSION_TIMEOUT,
    ) -> Session:
        """The session on ``guest``'s ``device`` once ``matches`` it. The host learns of
        clients coming and going from the console process, a moment after they do: a test
        waits for the very state it asserts."""
        seen: list[Session | None] = [None]

        def find() -> Session | None:
            seen[0] = self.session_of(guest, device)
            return seen[0] if seen[0] is not None and matches(seen[0]) else None

        try:
            return wait_for(find, timeout, what)
        except WaitTimeout:
            raise WaitTimeout(
                f"session {guest}/{device}: not {what} after {timeout} s; last: {seen[0]}"
            ) from None

    def wait_session_state(
        self, state: str, guest: str = "mock-vm", device: str = "serial0"
    ) -> Session:
        return self.wait_session(state, lambda s: s["state"] == state, guest, device)

    def wait_viewer_states(
        self, states: list[str], guest: str = "mock-vm", device: str = "serial0"
    ) -> Session:
        """The session once its viewers' states are ``states`` (sorted)."""
        return self.wait_session(
            f"with viewers {states}",
            lambda s: sorted(v["state"] for v in s["viewers"]) == sorted(states),
            guest,
            device,
        )

    def wait_for_no_session(self, guest: str, device: str) -> None:
        wait_for(
            lambda: self.session_of(guest, device) is None,
            SESSION_TIMEOUT,
            f"session {guest}/{device} to end",
        )

    def wait_log(self, text: str, timeout: float = SESSION_TIMEOUT) -> str:
        """The host's log once it contains ``text`` (the host logs what it learns from its
        children a moment after the test sees it)."""

        def logged() -> str | None:
            log = self.full_log()
            return log if text in log else None

        return wait_for(logged, timeout, f"{text!r} in the host's log")

    def settled_hypervisors(self, timeout: float = FIRST_CONNECT_TIMEOUT) -> dict[str, Any]:
        """Each hypervisor (by name) as GET /hypervisors lists it, once none is still
        ``connecting``: connected or unreachable, as the test then asserts."""

        def settled() -> dict[str, Any] | None:
            listed = {hv["name"]: hv for hv in self.get("hypervisors").json()}
            return None if any(hv["state"] == "connecting" for hv in listed.values()) else listed

        return wait_for(settled, timeout, "every hypervisor connected or unreachable")

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
            guest = f"hypervisors/{session['hypervisor']}/vms/{session['uuid']}"
            response = self.delete(f"{guest}/serial", params={"device": session["device"]})
            assert response.status_code in (204, 404), response.text

    def idle_state(self) -> dict[str, Any]:
        """Sessions, files and extra processes the host has now; all empty when idle."""
        extra = set(processes_mentioning(str(self.run_dir))) - self.baseline
        return {"sessions": self.sessions(), **self.dir_entries(), "processes": sorted(extra)}

    def assert_idle(self, timeout: float = 5.0) -> None:
        """Within ``timeout``: no session, no socket, no token, no process beyond the baseline."""
        empty = {"sessions": [], "consoles": [], "tokens": [], "processes": []}
        wait_equal(self.idle_state, empty, timeout, "the host to be idle")


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
