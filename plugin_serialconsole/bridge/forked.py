"""Handler processes of the proxy: forked with nothing but their own descriptors.

A handler is forked from the accept loop, which holds a descriptor for every handler
running and every connection waiting. Kept in the child, those would pile up: each
handler would hold the descriptors of all before it, and its connection would get a
number past 1023, where ``select()`` (which websockify's handshake uses) fails. So a
child closes every descriptor it does not own and moves its connection to a low number.

The parent keeps one descriptor per handler: a pidfd, readable once the child has ended
(``multiprocessing`` would keep two pipes per child).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


def keep_only(keep: Iterable[int]) -> None:
    """Close every descriptor from 3 up except ``keep``; stdin becomes /dev/null."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    start = 3
    for fd in sorted(set(keep) | {os.sysconf("SC_OPEN_MAX")}):
        if fd >= start:
            os.closerange(start, fd)
            start = fd + 1


def low_numbered(sock: socket.socket) -> socket.socket:
    """``sock`` moved to the lowest free descriptor (call after ``keep_only``)."""
    moved = sock.dup()
    sock.close()
    return moved


class HandlerProcess:
    """One forked handler: its pid and a pidfd the parent polls for its end."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.exit_code: int | None = None

    @classmethod
    def fork(cls, child: Callable[[], int]) -> HandlerProcess:
        """Run ``child()`` in a forked process that exits with its result (1 if it raises).

        Raises OSError if the fork, or the pidfd for it, fails (no child is left then)."""
        gc.freeze()  # see zygote_server.fork: the child shares the parent's objects' pages
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = child()
            except BaseException:  # noqa: BLE001 (logged; the process ends either way)
                log.exception("WebSocket handler process failed")
            finally:
                os._exit(code)
        try:
            return cls(pid, os.pidfd_open(pid))
        except OSError:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise

    def reap(self) -> int:
        """Wait for the ended child, release its pidfd; its exit code."""
        if self.exit_code is None:
            _, status = os.waitpid(self.pid, 0)
            self.exit_code = os.waitstatus_to_exitcode(status)
            os.close(self.pidfd)
        return self.exit_code

    def signal(self, number: int) -> None:
        if self.exit_code is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)


def wait_for_ends(pidfds: set[int], timeout: float) -> set[int]:
    """Those of ``pidfds`` whose process has not ended within ``timeout`` seconds."""
    running, deadline = set(pidfds), time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for pidfd in running:
            selector.register(pidfd, selectors.EVENT_READ)
        while running and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                selector.unregister(key.fd)
                running.discard(key.fd)
    return running
