"""Starts and stops the websockify process from the plugin's start/stop hooks."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from plugin_serialconsole.logfmt import level_name

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0


class WebsockifyBridge:
    """The websockify proxy process, listening on a socket this object binds.

    Binding here, before the child starts, makes the port usable the moment ``start``
    returns, reports a busy port in the host's own startup, and supports port 0.
    """

    def __init__(
        self,
        host: str,
        port: int,
        tokens_dir: Path,
        sockets_dir: Path,
        allowed_origins: Sequence[str] = (),
    ) -> None:
        self.host = host
        self.requested_port = port
        self.tokens_dir = tokens_dir
        self.sockets_dir = sockets_dir
        self.allowed_origins = tuple(allowed_origins)
        self.port: int | None = None
        self._listener: socket.socket | None = None
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._listener = socket.create_server((self.host, self.requested_port), backlog=128)
        self.port = self._listener.getsockname()[1]
        self._spawn()
        log.info("websockify listening on %s:%s (pid %s)", self.host, self.port, self.pid)

    def _spawn(self) -> None:
        assert self._listener is not None
        command = [
            sys.executable,
            "-m",
            "plugin_serialconsole.bridge.proxy",
            "--listen-fd",
            str(self._listener.fileno()),
            "--tokens-dir",
            str(self.tokens_dir),
            "--sockets-dir",
            str(self.sockets_dir),
            "--log-level",
            level_name("plugin_serialconsole.bridge"),
        ]
        for origin in self.allowed_origins:
            command += ["--allowed-origin", origin]
        # stdin is a lifeline: the proxy stops when it reads end of file, i.e. when we die.
        self._process = subprocess.Popen(
            command, pass_fds=(self._listener.fileno(),), stdin=subprocess.PIPE
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.stdin.close()
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("websockify did not stop in %ss; killing it", STOP_TIMEOUT)
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
