"""The zygote: a process that has imported what a console process needs and forks one on
request, so a console starts in ~10 ms instead of an interpreter's 100-300 ms.

    python -m plugin_serialconsole.console.zygote_server --socket-fd FD --sockets-dir DIR

Started by the host with one end of a SOCK_SEQPACKET socketpair (its lifeline: end of file
there ends the zygote). A request is a console's spec with the child's stdin and stdout;
the answer is the child's pid or why it was refused, and each child's exit is reported
once it is reaped (``zygote_protocol``).

It holds no libvirt connection, registers no libvirt event loop and runs no thread and no
asyncio loop: a fork copies only the calling thread, and libvirt's state does not survive
one. Its children run in sessions of their own, so they outlive it.
"""

from __future__ import annotations

import argparse
import asyncio  # noqa: F401 (what a console process imports anyway: done once, here)
import contextlib
import gc
import logging
import os
import selectors
import shlex
import signal
import socket
import sys
import traceback
from pathlib import Path

from setproctitle import setproctitle

from plugin_serialconsole.console import __main__ as console
from plugin_serialconsole.console import zygote_protocol
from plugin_serialconsole.console.spec import MODULE, ConsoleSpec, command_line
from plugin_serialconsole.console.warmup import warm_up
from plugin_serialconsole.console.zygote_protocol import Refused
from plugin_serialconsole.logfmt import configure_stderr, stderr_handler

with contextlib.suppress(ImportError):  # no libvirt-python: mock consoles only
    from plugin_serialconsole.console import libvirt_stream  # noqa: F401

log = logging.getLogger("plugin_serialconsole.console.zygote_server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}.zygote_server", description=__doc__)
    parser.add_argument("--socket-fd", type=int, required=True, help="the host's socketpair end")
    parser.add_argument("--sockets-dir", type=Path, required=True, help="consoles' socket dir")
    parser.add_argument("--log-level", default="INFO")
    return parser


def run_child(
    spec: ConsoleSpec, argv: list[str], fds: list[int], keep: list, log_handler: logging.Handler
) -> int:
    """In the forked child: become the console process ``python ARGV`` of ``spec``,
    logging through ``log_handler``."""
    os.setsid()
    # SIGINT too: with Python's default_int_handler there, asyncio.run would install a
    # handler of its own, which the console's loop.add_signal_handler replaces at once,
    # first converting it (a partial of the main task) to an enum and failing, which
    # formats the task's repr: ~0.12 MB of each console process's pages copied.
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    for thing in keep:
        thing.close()
    os.dup2(fds[0], 0)
    os.dup2(fds[1], 1)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    sys.argv = [console.__file__, *argv[2:]]
    # ps and /proc/PID/cmdline show the console's own arguments, not the zygote's.
    setproctitle(shlex.join([sys.executable, *argv]))
    try:
        return console.run(spec, log_handler)
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 (as an uncaught exception would end it)
        traceback.print_exc()
        return 1


def fork(
    spec: ConsoleSpec, argv: list[str], fds: list[int], keep: list, log_handler: logging.Handler
) -> int:
    # Objects the zygote made move to the collector's permanent generation: the child's
    # collections never write to their headers, so their pages stay shared instead of
    # being copied into every console process.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = run_child(spec, argv, fds, keep, log_handler)
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):  # leaving regardless
                    stream.flush()
            os._exit(code)
    return pid


def reap(sock: socket.socket) -> None:
    """Every child that has ended, reaped and reported."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(zygote_protocol.exited(pid, os.waitstatus_to_exitcode(status)))


def answer(
    sock: socket.socket, sockets_dir: Path, selector, wakeup, log_handler: logging.Handler
) -> bool:
    """Serve one request; False once the host is gone. ``log_handler``: the children's."""
    received = zygote_protocol.receive_request(sock)
    if received is None:
        return False
    data, fds = received
    try:
        spec = zygote_protocol.parse_request(data, fds, sockets_dir)
        # The command line from the request as it came: re-serializing the spec in each
        # child (dataclasses.asdict, code no zygote ever runs) copied ~0.1 MB of its pages.
        argv = command_line(data.decode())
        pid = fork(spec, argv, fds, [sock, selector, wakeup[0], wakeup[1]], log_handler)
        sock.send(zygote_protocol.started(pid))
    except Refused as refused:
        log.warning("refused a request: %s", refused)
        sock.send(zygote_protocol.failed(str(refused)))
    finally:
        for fd in fds:
            os.close(fd)
    return True


def serve(sock: socket.socket, sockets_dir: Path, log_handler: logging.Handler) -> None:
    wakeup = socket.socketpair()
    for end in wakeup:
        end.setblocking(False)
    signal.set_wakeup_fd(wakeup[1].fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        selector.register(wakeup[0], selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is wakeup[0]:
                    with contextlib.suppress(BlockingIOError):
                        while wakeup[0].recv(4096):
                            pass
                elif not answer(sock, sockets_dir, selector, wakeup, log_handler):
                    return
            reap(sock)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_stderr(args.log_level.upper(), "zygote[%(process)d]")
    # SIGTERM from the host (or the terminal's SIGINT) ends it like its lifeline would.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(fileno=args.socket_fd)
    warm_up()
    children_log = stderr_handler(console.LOG_TAG)  # made once: each child logs through it
    with contextlib.suppress(BrokenPipeError, ConnectionError, KeyboardInterrupt):
        serve(sock, args.sockets_dir, children_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
