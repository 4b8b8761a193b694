"""A proxy handler is forked with nothing but its own descriptors (issue 20: past ~507
handlers, inherited descriptors pushed a connection past 1023, where select() fails)."""

from __future__ import annotations

import os
import socket

from plugin_serialconsole.bridge.forked import (
    HandlerProcess,
    keep_only,
    low_numbered,
    wait_for_ends,
)

CHILD_TIMEOUT = 10.0


def test_a_handler_keeps_only_its_connection_at_a_low_number() -> None:
    clutter = [os.pipe() for _ in range(40)]  # what the accept loop holds for others
    ours, theirs = socket.socketpair()
    try:

        def child() -> int:
            keep_only((theirs.fileno(),))
            moved = low_numbered(theirs)
            open_fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
            moved.sendall(f"{moved.fileno()} {open_fds}".encode())
            return 0

        handler = HandlerProcess.fork(child)
        ours.settimeout(CHILD_TIMEOUT)
        number, open_fds = ours.recv(4096).decode().split(" ", 1)
        assert wait_for_ends({handler.pidfd}, CHILD_TIMEOUT) == set()
        assert handler.reap() == 0
    finally:
        ours.close()
        theirs.close()
        for read_end, write_end in clutter:
            os.close(read_end)
            os.close(write_end)
    assert int(number) == 3
    # stdio, the connection, and the directory listdir had open while it looked
    assert open_fds == "[0, 1, 2, 3, 4]"


def test_a_child_that_raises_exits_1_and_is_reaped() -> None:
    def child() -> int:
        raise RuntimeError("boom")

    handler = HandlerProcess.fork(child)
    assert wait_for_ends({handler.pidfd}, CHILD_TIMEOUT) == set()
    assert handler.reap() == 1
