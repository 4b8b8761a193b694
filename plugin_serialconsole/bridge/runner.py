"""Starts, supervises and stops the websockify process for the plugin's start/stop hooks."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from plugin_serialconsole.bridge.accept import HandlerLimits
from plugin_serialconsole.bridge.reports import Refusal, ReportReader
from plugin_serialconsole.logfmt import level_name

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
# A proxy that dies is restarted at once, then after a growing delay if it keeps dying
# young, so a crash loop cannot spin a core.
FIRST_RESTART_DELAY = 0.1
MAX_RESTART_DELAY = 10.0
HEALTHY_AFTER = 10.0
# websockify exits 0 only when asked to stop (SIGTERM/SIGINT, or its host gone), and one
# signalled before it set its handlers dies of the signal. When the
# whole service is stopped (systemd signals every process of the unit, a terminal's Ctrl+C
# the whole process group), the host's own stop follows within this many seconds; a proxy
# stopped alone is restarted after it.
HOST_STOP_GRACE = 10.0
ASKED_TO_STOP = (0, -signal.SIGTERM, -signal.SIGINT)


class WebsockifyBridge:
    """The websockify proxy process, listening on a socket this object binds.

    Binding here, before the child starts, makes the port usable the moment ``start``
    returns, reports a busy port in the host's own startup, and supports port 0. As the
    socket stays open here, a proxy that dies is restarted on the same port, and
    connections that arrive meanwhile wait in the backlog instead of being refused.

    With ``on_refusal``, each connection the proxy refuses is handed to it (on a thread of
    this object): every proxy process reports over a pipe of its own (``reports``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        tokens_dir: Path,
        sockets_dir: Path,
        allowed_origins: Sequence[str],
        limits: HandlerLimits,
        rights_file: str = "",
        on_refusal: Callable[[Refusal], None] | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.tokens_dir = tokens_dir
        self.sockets_dir = sockets_dir
        self.allowed_origins = tuple(allowed_origins)
        self.limits = limits
        self.rights_file = rights_file
        self.on_refusal = on_refusal
        self._reports: ReportReader | None = None
        self.port: int | None = None
        self._listener: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and a stop never interleave
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        self._listener = socket.create_server((self.host, self.requested_port), backlog=128)
        self.port = self._listener.getsockname()[1]
        self._stopping.clear()
        self._spawn()
        log.info("websockify listening on %s:%s (pid %s)", self.host, self.port, self.pid)
        self._supervisor = threading.Thread(
            target=self._supervise, name="websockify-supervisor", daemon=True
        )
        self._supervisor.start()

    def _supervise(self) -> None:
        delay = FIRST_RESTART_DELAY
        while not self._stopping.is_set():
            process, started = self._process, time.monotonic()
            code = process.wait()
            if code in ASKED_TO_STOP:
                log.info(
                    "websockify (pid %s) stopped on request (%s); restarted unless the host "
                    "stops within %s s", process.pid, code, HOST_STOP_GRACE,
                )  # fmt: skip
                if self._stopping.wait(HOST_STOP_GRACE):
                    return
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            delay = (
                FIRST_RESTART_DELAY if lived > HEALTHY_AFTER else min(delay * 2, MAX_RESTART_DELAY)
            )
            log.warning(
                "websockify (pid %s) exited with %s after %.1f s; restarting it in %.1f s",
                process.pid, code, lived, delay,
            )  # fmt: skip
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                process.stdin.close()
                self._spawn()
            log.info("websockify restarted (pid %s)", self.pid)

    def _spawn(self) -> None:
        assert self._listener is not None
        command, passed = self._command(), [self._listener.fileno()]
        if self.on_refusal is None:
            self._start(command, passed)
            return
        self._join_reports()  # the last proxy's: it ended with that proxy
        read_end, write_end = os.pipe2(os.O_CLOEXEC)  # only the proxy inherits write_end
        try:
            self._start([*command, "--report-fd", str(write_end)], [*passed, write_end])
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)  # the proxy's alone: its exit ends the reader
        self._reports = ReportReader(read_end, self.on_refusal).start()

    def _start(self, command: list[str], passed: list[int]) -> None:
        # stdin is a lifeline: the proxy stops when it reads end of file, i.e. when we die.
        self._process = subprocess.Popen(command, pass_fds=passed, stdin=subprocess.PIPE)

    def _command(self) -> list[str]:
        assert self._listener is not None
        command = [
            sys.executable,
            "-m",
            "plugin_serialconsole.bridge.proxy_main",
            "--listen-fd",
            str(self._listener.fileno()),
            "--tokens-dir",
            str(self.tokens_dir),
            "--sockets-dir",
            str(self.sockets_dir),
            "--max-handlers",
            str(self.limits.max_handlers),
            "--handshake-timeout",
            str(self.limits.handshake_timeout),
            "--log-level",
            level_name("plugin_serialconsole.bridge"),
        ]
        if self.rights_file:
            command += ["--rights-file", self.rights_file]
        for origin in self.allowed_origins:
            command += ["--allowed-origin", origin]
        return command

    def _join_reports(self) -> None:
        """Wait for the reader of the last proxy's reports: it ends at the end of file
        the proxy's exit makes."""
        if self._reports is not None:
            self._reports.join(STOP_TIMEOUT)
            self._reports = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
        if self._process is not None:
            self._process.terminate()
            self._process.stdin.close()
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("websockify did not stop in %ss; killing it", STOP_TIMEOUT)
                self._process.kill()
                self._process.wait()
        if self._supervisor is not None:
            self._supervisor.join(STOP_TIMEOUT)
            self._supervisor = None
        self._join_reports()
        self._process = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
