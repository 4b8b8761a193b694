"""The host's end of the zygote process (``plugin_serialconsole.console.zygote_server``;
what they say to each other: ``console.zygote_protocol``).

Requests go one at a time (a fork takes milliseconds); a thread reads what the zygote
says: the answer to the request under way, and the exit of each child it reaped. A child
left behind by a zygote that died keeps running, its exit status then unknown (-1); its
end is seen through a pidfd.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from plugin_serialconsole.console import zygote_protocol
from plugin_serialconsole.console.spec import ConsoleSpec
from plugin_serialconsole.console.zygote_protocol import Exited, Failed, Started
from plugin_serialconsole.logfmt import level_name

log = logging.getLogger(__name__)

ANSWER_TIMEOUT = 10.0  # the first answer waits for the zygote's imports
STOP_TIMEOUT = 5.0
UNKNOWN = -1


class ZygoteUnavailable(Exception):
    """The zygote is not running or did not answer."""


class ZygoteRefused(OSError):
    """The zygote refused the request (a bug of the host's, not a console failure)."""


class _Exit:
    """A child's exit as the zygote reports it."""

    def __init__(self, pid: int) -> None:
        self.done = threading.Event()
        self.status: int | None = None  # None with done set: the zygote died first
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except OSError:  # already gone (its report follows) or no pidfd support
            self.pidfd = None

    def reported(self, status: int | None) -> None:
        self.status = status
        self.done.set()


class ZygoteChild:
    """A console process the zygote forked; a ``launcher.ChildHandle``."""

    def __init__(self, pid: int, stdin_fd: int, stdout_fd: int, exit_: _Exit) -> None:
        self.pid = pid
        self.stdin = open(stdin_fd, "wb")  # noqa: SIM115 (closed by ConsoleProcess)
        self.stdout = open(stdout_fd, "rb")  # noqa: SIM115
        self._exit = exit_

    def _ended(self, timeout: float | None) -> bool:
        exit_ = self._exit
        deadline = None if timeout is None else time.monotonic() + timeout
        if not exit_.done.wait(timeout):
            return False
        if exit_.status is not None or exit_.pidfd is None:
            return True
        # The zygote died before it: the process, now init's child, may still run.
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return bool(select.select([exit_.pidfd], [], [], remaining)[0])

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended(timeout):
            raise subprocess.TimeoutExpired(f"console process {self.pid}", timeout)
        if self._exit.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._exit.pidfd)
            self._exit.pidfd = None
        return UNKNOWN if self._exit.status is None else self._exit.status

    def kill(self) -> None:
        if self._ended(0):
            return  # reaped: its pid may be someone else's by now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


class Zygote:
    """One zygote process, from ``start`` to ``stop`` (or its death)."""

    def __init__(self, sockets_dir: Path, on_exit: Callable[[Zygote], None] | None = None) -> None:
        self.sockets_dir = sockets_dir
        self._on_exit = on_exit
        self._stopping = False
        self.pid: int | None = None
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()  # one request and its answer at a time
        self._answers: queue.Queue = queue.Queue()
        self._children: dict[int, _Exit] = {}
        self._children_lock = threading.Lock()
        self.alive = False

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    def start(self) -> Zygote:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [
            sys.executable, "-m", "plugin_serialconsole.console.zygote_server",
            "--socket-fd", str(theirs.fileno()),
            "--sockets-dir", str(self.sockets_dir),
            "--log-level", level_name("plugin_serialconsole.console"),
        ]  # fmt: skip
        with theirs:
            self._process = subprocess.Popen(
                command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self._sock, self.pid, self.alive = ours, self._process.pid, True
        threading.Thread(target=self._read, name=f"zygote-{self.pid}", daemon=True).start()
        log.info("console zygote started (pid %s)", self.pid)
        return self

    def _read(self) -> None:
        try:
            while data := self._sock.recv(zygote_protocol.MAX_MESSAGE):
                self._dispatch(zygote_protocol.parse_answer(data))
        except (OSError, ValueError, TypeError, KeyError) as error:  # gone, or talking nonsense
            log.debug("zygote %s: %s", self.pid, error)
        self.alive = False
        self._answers.put(None)
        with self._children_lock:
            orphans, self._children = list(self._children.values()), {}
        for exit_ in orphans:
            exit_.reported(None)
        self._reap()
        if not self._stopping and self._on_exit is not None:
            self._on_exit(self)

    def _dispatch(self, message: Started | Failed | Exited) -> None:
        if isinstance(message, Exited):
            with self._children_lock:
                exit_ = self._children.pop(message.pid, None)
            if exit_ is not None:
                exit_.reported(message.status)
            return
        exit_ = None
        if isinstance(message, Started):
            exit_ = _Exit(message.pid)
            with self._children_lock:  # before its exit can be read
                self._children[message.pid] = exit_
        self._answers.put((message, exit_))

    def launch(self, spec: ConsoleSpec) -> ZygoteChild:
        """Fork the console process of ``spec``; raises ZygoteUnavailable or ZygoteRefused."""
        child_stdin, stdin = os.pipe()
        stdout, child_stdout = os.pipe()
        try:
            pid, exit_ = self._ask(spec, [child_stdin, child_stdout])
        except BaseException:
            os.close(stdin)
            os.close(stdout)
            raise
        finally:
            os.close(child_stdin)
            os.close(child_stdout)
        return ZygoteChild(pid, stdin, stdout, exit_)

    def _ask(self, spec: ConsoleSpec, fds: list[int]) -> tuple[int, _Exit]:
        with self._lock:
            if not self.alive:
                raise ZygoteUnavailable("not running")
            try:
                zygote_protocol.send_request(self._sock, spec, fds)
                answer = self._answers.get(timeout=ANSWER_TIMEOUT)
            except OSError as error:
                raise ZygoteUnavailable(str(error)) from None
            except queue.Empty:
                self._kill()  # a late answer must not be taken for the next request's
                raise ZygoteUnavailable(f"no answer in {ANSWER_TIMEOUT:g} s") from None
        if answer is None:
            raise ZygoteUnavailable("it has exited")
        message, exit_ = answer
        if isinstance(message, Failed):
            raise ZygoteRefused(f"console zygote refused: {message.error}")
        return message.pid, exit_

    def _kill(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()

    def _reap(self) -> None:
        try:
            self._process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("console zygote %s did not stop in %ss; killing it", self.pid, STOP_TIMEOUT)
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        """End the zygote (its children run on) and reap it."""
        if self._process is None:
            return
        self._stopping, self.alive = True, False
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # its end of file, and our reader's
        self._reap()
        self._sock.close()
        log.info("console zygote stopped (pid %s)", self.pid)
