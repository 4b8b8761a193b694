"""How console processes are started: forked by the zygote, or spawned when it is not there.

A console process is a ``ChildHandle`` either way: its pid, the pipes to its stdin and
stdout, ``wait`` and ``kill`` (of its process group), with ``subprocess.Popen``'s meaning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from plugin_serialconsole.console.spec import ConsoleSpec
from plugin_serialconsole.supervisor.zygote_client import Zygote, ZygoteUnavailable

log = logging.getLogger(__name__)

# A zygote that keeps dying is restarted at most this often; meanwhile consoles are spawned.
RESTART_INTERVAL = 10.0


class ChildHandle(Protocol):
    pid: int
    stdin: BinaryIO
    stdout: BinaryIO

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal); raises subprocess.TimeoutExpired."""

    def kill(self) -> None:
        """SIGKILL the process's group (its session: it leads both)."""


Launch = Callable[[ConsoleSpec], ChildHandle]


class SpawnedChild:
    """A console process started as a fresh interpreter in a session of its own."""

    def __init__(self, spec: ConsoleSpec) -> None:
        self._popen = subprocess.Popen(
            [sys.executable, *spec.argv()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        self.stdin = self._popen.stdin
        self.stdout = self._popen.stdout

    def wait(self, timeout: float | None = None) -> int:
        return self._popen.wait(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def spawn(spec: ConsoleSpec) -> ChildHandle:
    return SpawnedChild(spec)


class ConsoleLauncher:
    """Starts console processes through the zygote, falling back to ``spawn``.

    A zygote that is gone or does not answer is replaced; the request that found out, and
    every request until a replacement may be started, spawn instead. Thread-safe.
    """

    def __init__(self, sockets_dir: Path, use_zygote: bool = True) -> None:
        self.sockets_dir = sockets_dir
        self.use_zygote = use_zygote
        self._zygote: Zygote | None = None
        self._lock = threading.Lock()
        self._started_at = -RESTART_INTERVAL
        self._running = False

    @property
    def zygote_pid(self) -> int | None:
        zygote = self._zygote
        return zygote.pid if zygote is not None and zygote.alive else None

    def start(self) -> None:
        with self._lock:
            self._running = self.use_zygote
            if self._running:
                self._start_zygote()

    def _start_zygote(self) -> None:
        self._started_at = time.monotonic()
        try:
            self._zygote = Zygote(self.sockets_dir, self._exited).start()
        except OSError as error:
            log.warning("console zygote did not start (%s); console processes are spawned", error)
            self._zygote = None

    def stop(self) -> None:
        with self._lock:
            self._running = False
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.stop()

    def __call__(self, spec: ConsoleSpec) -> ChildHandle:
        zygote = self._current()
        if zygote is not None:
            try:
                return zygote.launch(spec)
            except ZygoteUnavailable as error:
                self._lost(zygote, error)
        return spawn(spec)

    def _current(self) -> Zygote | None:
        with self._lock:
            due = time.monotonic() - self._started_at >= RESTART_INTERVAL
            if self._running and self._zygote is None and due:
                self._start_zygote()
            return self._zygote

    def _exited(self, zygote: Zygote) -> None:
        self._lost(zygote, ZygoteUnavailable(f"exited with {zygote.returncode}"))

    def _lost(self, zygote: Zygote, error: ZygoteUnavailable) -> None:
        """Replace ``zygote`` now if it is not the second in RESTART_INTERVAL, else at the
        first request after that; console processes are spawned meanwhile."""
        with self._lock:
            if self._zygote is not zygote:
                return  # found out already
            self._zygote = None
            log.warning(
                "console zygote (pid %s) unavailable: %s; spawning console processes until "
                "it is restarted", zygote.pid, error,
            )  # fmt: skip
        zygote.stop()
        self._current()
