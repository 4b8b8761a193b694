"""The host's handle on one console process: spawn, wait until listening, stop, reap."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_serialconsole.console import protocol
from plugin_serialconsole.errors import console_in_use, console_unavailable
from plugin_serialconsole.logfmt import level_name

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class ConsoleSpec:
    """Everything a console process needs to know."""

    uri: str
    guest_uuid: str
    guest_name: str
    device: str
    socket_path: Path
    idle_timeout: float
    accept_timeout: float
    force: bool = False
    language: str = "en"

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "plugin_serialconsole.console",
            "--uri",
            self.uri,
            "--guest-uuid",
            self.guest_uuid,
            "--guest-name",
            self.guest_name,
            "--device",
            self.device,
            "--socket",
            str(self.socket_path),
            "--idle-timeout",
            str(self.idle_timeout),
            "--accept-timeout",
            str(self.accept_timeout),
            "--lang",
            self.language,
            "--log-level",
            level_name("plugin_serialconsole.console"),
        ]
        return command + (["--force"] if self.force else [])


class ConsoleProcess:
    """A running console process; ``start`` returns once its socket is listening."""

    def __init__(self, spec: ConsoleSpec, popen: subprocess.Popen) -> None:
        self.spec = spec
        self._popen = popen
        self.end: tuple[str, dict[str, Any]] | None = None

    @property
    def pid(self) -> int:
        return self._popen.pid

    @classmethod
    def start(cls, spec: ConsoleSpec) -> ConsoleProcess:
        popen = subprocess.Popen(
            spec.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
        process = cls(spec, popen)
        try:
            first = process._first_report()
        except BaseException:
            process._discard()
            raise
        if first.get("event") == protocol.READY:
            return process
        process._discard()
        if first.get("event") == protocol.FAILED:
            code, params = first.get("code", ""), first.get("params") or {}
            if code == "SCONS0003E":
                raise console_in_use(spec.guest_name, spec.device)
            error = params.get("error", code)
        else:
            error = "the console process exited before it was ready"
        raise console_unavailable(spec.guest_name, str(error))

    def _first_report(self) -> dict[str, Any]:
        stdout = self._popen.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(STARTUP_TIMEOUT):
                raise console_unavailable(
                    self.spec.guest_name, f"not ready within {STARTUP_TIMEOUT:.0f} s"
                )
        return protocol.decode(stdout.readline())

    def watch(self, on_report: Callable[[dict[str, Any]], None]) -> None:
        """Pass each report to ``on_report`` until the process exits; then reap it."""
        for line in self._popen.stdout:
            report = protocol.decode(line)
            if report.get("event") == protocol.ENDED:
                self.end = (report.get("code", ""), report.get("params") or {})
            on_report(report)
        self._popen.stdout.close()
        self.wait()

    def request_stop(self, code: str) -> None:
        """Ask the process to end, telling its client ``code``."""
        with contextlib.suppress(OSError, ValueError):
            self._popen.stdin.write(protocol.encode(protocol.STOP, code=code))
            self._popen.stdin.flush()

    def wait(self, timeout: float | None = None) -> int:
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("console process %s did not stop in %ss; killing it", self.pid, timeout)
            self.kill()
            code = self._popen.wait()
        with contextlib.suppress(OSError, ValueError):
            self._popen.stdin.close()
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        self._popen.wait()

    def _discard(self) -> None:
        """Kill a process that never became ready; no watcher will close its pipes."""
        self.kill()
        for pipe in (self._popen.stdin, self._popen.stdout):
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
