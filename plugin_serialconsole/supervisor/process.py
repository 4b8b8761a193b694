"""The host's handle on one console process: spawn, wait until listening, invite more
clients, send one away, stop, reap."""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from plugin_serialconsole import consoles
from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.spec import ConsoleSpec
from plugin_serialconsole.consoles import Reason, parse_reason
from plugin_serialconsole.errors import console_in_use, console_unavailable
from plugin_serialconsole.sendkeys import SendRequest
from plugin_serialconsole.supervisor.launcher import ChildHandle, Launch, spawn

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
INVITE_TIMEOUT = 5.0
TRANSCRIPT_TIMEOUT = 10.0


class InviteFailed(Exception):
    """The console process did not open the socket asked for."""


class _Answer:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.report: dict[str, Any] | None = None


class ConsoleProcess:
    """A running console process; ``start`` returns once its socket is listening."""

    def __init__(self, spec: ConsoleSpec, child: ChildHandle) -> None:
        self.spec = spec
        self._child = child
        self.end: tuple[Reason, dict[str, Any]] | None = None  # why it ended, once it has
        self.replay = 0  # bytes of recent output the first client gets first
        self._stdin_lock = threading.Lock()
        self._answers: dict[str, _Answer] = {}
        self._answers_lock = threading.Lock()
        self._exited = False

    @property
    def pid(self) -> int:
        return self._child.pid

    @classmethod
    def start(cls, spec: ConsoleSpec, launch: Launch = spawn) -> ConsoleProcess:
        process = cls(spec, launch(spec))
        try:
            first = process._first_report()
        except BaseException:
            process._discard()
            raise
        if first.get("event") == protocol.READY:
            process.replay = int(first.get("replay") or 0)
            return process
        process._discard()
        if first.get("event") == protocol.FAILED:
            reason, params = parse_reason(first.get("reason")), first.get("params") or {}
            if reason == Reason.IN_USE:
                raise console_in_use(spec.guest_name, spec.device)
            error = params.get("error", reason)
        else:
            error = "the console process exited before it was ready"
        raise console_unavailable(spec.guest_name, str(error))

    def _first_report(self) -> dict[str, Any]:
        stdout = self._child.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(STARTUP_TIMEOUT):
                raise console_unavailable(
                    self.spec.guest_name, f"not ready within {STARTUP_TIMEOUT:.0f} s"
                )
        return protocol.decode(stdout.readline())

    def watch(self, on_report: Callable[[dict[str, Any]], None]) -> None:
        """Pass each report to ``on_report`` until the process exits; then reap it.

        Answers to invitations go to whoever is waiting for them in ``invite``."""
        try:
            for line in self._child.stdout:
                report = protocol.decode(line)
                event = report.get("event")
                if event in (protocol.INVITED, protocol.REFUSED):
                    self._answered(str(report.get("socket")), report)
                    continue
                if event == protocol.ENDED and (reason := parse_reason(report.get("reason"))):
                    self.end = (reason, report.get("params") or {})
                on_report(report)
        finally:
            with self._answers_lock:
                self._exited = True
                waiting = list(self._answers.values())
            for answer in waiting:
                answer.done.set()
        self._child.stdout.close()
        self.wait()

    def _answered(self, name: str, report: dict[str, Any]) -> None:
        with self._answers_lock:
            answer = self._answers.get(name)
        if answer is not None:
            answer.report = report
            answer.done.set()

    def invite(
        self,
        name: str,
        mode: str,
        ttl: float,
        language: str = "en",
        escape: str = consoles.CTRL_Q_KEY,
        session: str = "",
    ) -> protocol.Invited:
        """Have the process open socket ``name`` for one client in ``mode`` (of console
        session ``session``), usable for ``ttl`` seconds; return how many bytes of recent
        output that client gets first, and when its session opened."""
        answer = _Answer()
        with self._answers_lock:
            if self._exited:
                raise InviteFailed("the console process has ended")
            self._answers[name] = answer
        try:
            fields = {"mode": mode, "ttl": ttl, "lang": language, "escape": escape}
            line = protocol.encode(protocol.INVITE, socket=name, session=session, **fields)
            if not self._send(line):
                raise InviteFailed("the console process is not listening")
            if not answer.done.wait(INVITE_TIMEOUT):
                raise InviteFailed(f"no answer within {INVITE_TIMEOUT:g} s")
        finally:
            with self._answers_lock:
                self._answers.pop(name, None)
        if answer.report is None:
            raise InviteFailed("the console process has ended")
        if answer.report.get("event") != protocol.INVITED:
            raise InviteFailed(str(answer.report.get("error") or "refused"))
        report = answer.report
        return protocol.Invited(int(report.get("replay") or 0), float(report.get("at") or 0))

    def transcript(self, name: str, limit: int) -> bytes:
        """The recent output (at most ``limit`` bytes), through a socket of its own."""
        self.invite(name, consoles.TRANSCRIPT, TRANSCRIPT_TIMEOUT)
        deadline = time.monotonic() + TRANSCRIPT_TIMEOUT
        data = bytearray()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TRANSCRIPT_TIMEOUT)
                sock.connect(str(self.spec.sockets_dir / name))
                while len(data) <= limit and (chunk := sock.recv(65536)):
                    data += chunk
                    sock.settimeout(max(0.001, deadline - time.monotonic()))
        except OSError as error:
            raise InviteFailed(f"transcript: {error}") from None
        return bytes(data[:limit])

    def request_stop(self, reason: Reason, /, **params: str) -> None:
        """Ask the process to end, telling its clients why (``params``: of the reason's
        message)."""
        self._send(protocol.encode(protocol.STOP, reason=reason, params=params))

    def drop(self, name: str, reason: Reason) -> None:
        """Have the process send the client of socket ``name`` away, telling it why (or
        withdraw that socket's invitation)."""
        self._send(protocol.encode(protocol.DROP, socket=name, reason=reason))

    def send(self, request: SendRequest) -> bool:
        """Have the process hand ``request`` to its guest console; False when it is gone."""
        return self._send(protocol.encode(protocol.SEND, **request.as_json()))

    def _send(self, line: bytes) -> bool:
        with self._stdin_lock, contextlib.suppress(OSError, ValueError):
            self._child.stdin.write(line)
            self._child.stdin.flush()
            return True
        return False

    def wait(self, timeout: float | None = None) -> int:
        try:
            code = self._child.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("console process %s did not stop in %ss; killing it", self.pid, timeout)
            self.kill()
            code = self._child.wait()
        with contextlib.suppress(OSError, ValueError):
            self._child.stdin.close()
        return code

    def kill(self) -> None:
        self._child.kill()
        self._child.wait()

    def _discard(self) -> None:
        """Kill a process that never became ready; no watcher will close its pipes."""
        self.kill()
        for pipe in (self._child.stdin, self._child.stdout):
            with contextlib.suppress(OSError, ValueError):
                pipe.close()


def start_watcher(process: ConsoleProcess, on_report, on_exit) -> threading.Thread:
    """A thread that follows ``process`` and calls ``on_exit`` once it is reaped."""

    def follow() -> None:
        try:
            process.watch(on_report)
        finally:
            on_exit()

    thread = threading.Thread(target=follow, name=f"console-{process.pid}", daemon=True)
    thread.start()
    return thread
