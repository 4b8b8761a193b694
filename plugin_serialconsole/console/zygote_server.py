"""The zygote: a process that has imported what a console process needs and forks one on
request, so a console starts in ~10 ms instead of an interpreter's 100-300 ms.

    python -m plugin_serialconsole.console.zygote_server --socket-fd FD --sockets-dir DIR

Started by the host with one end of a SOCK_SEQPACKET socketpair (its lifeline: end of file
there ends the zygote). A request is one message, JSON ``{"argv": ["-m",
"plugin_serialconsole.console", ...]}``, carrying the child's stdin and stdout as two file
descriptors; the answer is ``{"pid": N}`` or ``{"error": "..."}``. When a child ends, the
zygote reaps it at once and tells the host ``{"exited": N, "status": CODE}`` (``CODE`` as
``subprocess`` has it: negative for a signal).

It holds no libvirt connection, registers no libvirt event loop and runs no thread and no
asyncio loop: a fork copies only the calling thread, and libvirt's state does not survive
one. Its children run in sessions of their own, so they outlive it.
"""

from __future__ import annotations

import argparse
import asyncio  # noqa: F401 (what a console process imports anyway: done once, here)
import contextlib
import json
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
from plugin_serialconsole.logfmt import configure_stderr

with contextlib.suppress(ImportError):  # no libvirt-python: mock consoles only
    from plugin_serialconsole.console import libvirt_stream  # noqa: F401

log = logging.getLogger("plugin_serialconsole.console.zygote_server")

MODULE = "plugin_serialconsole.console"
MAX_MESSAGE = 64 * 1024
MAX_ARGS = 64


class Refused(Exception):
    """A request the zygote does not carry out."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}.zygote_server", description=__doc__)
    parser.add_argument("--socket-fd", type=int, required=True, help="the host's socketpair end")
    parser.add_argument("--sockets-dir", type=Path, required=True, help="consoles' socket dir")
    parser.add_argument("--log-level", default="INFO")
    return parser


def console_args(request: dict, sockets_dir: Path) -> list[str]:
    """The console's arguments from a request; only a console whose socket is in
    ``sockets_dir`` is started, nothing else is ever run."""
    argv = request.get("argv") if isinstance(request, dict) else None
    if not isinstance(argv, list) or not 2 < len(argv) <= MAX_ARGS:
        raise Refused("argv: not a list of console arguments")
    if not all(isinstance(arg, str) and "\0" not in arg for arg in argv):
        raise Refused("argv: not all strings")
    if argv[:2] != ["-m", MODULE]:
        raise Refused(f"argv: only -m {MODULE} is run")
    args = argv[2:]
    if args.count("--socket") != 1 or args.index("--socket") == len(args) - 1:
        raise Refused("argv: no --socket")
    path = Path(args[args.index("--socket") + 1])
    if not path.is_absolute() or path.parent != sockets_dir or path.name in ("", ".", ".."):
        raise Refused("argv: --socket outside the sockets directory")
    return args


def receive(sock: socket.socket) -> tuple[dict, list[int]] | None:
    """One request and its file descriptors; None at end of file."""
    data, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, 2)
    if not data and not fds:
        return None
    try:
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            raise ValueError("message too long")
        return json.loads(data), fds
    except ValueError:
        return {}, fds


def send(sock: socket.socket, **message: object) -> None:
    sock.send(json.dumps(message).encode())


def run_child(args: list[str], fds: list[int], keep: list) -> int:
    """In the forked child: become the console process ``python -m MODULE *args``."""
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    for thing in keep:
        thing.close()
    os.dup2(fds[0], 0)
    os.dup2(fds[1], 1)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    sys.argv = [console.__file__, *args]
    # ps and /proc/PID/cmdline show the console's own arguments, not the zygote's.
    setproctitle(shlex.join([sys.executable, "-m", MODULE, *args]))
    try:
        return console.main(args)
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 (as an uncaught exception would end it)
        traceback.print_exc()
        return 1


def fork(args: list[str], fds: list[int], keep: list) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = run_child(args, fds, keep)
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
        send(sock, exited=pid, status=os.waitstatus_to_exitcode(status))


def answer(sock: socket.socket, sockets_dir: Path, selector, wakeup) -> bool:
    """Serve one request; False once the host is gone."""
    received = receive(sock)
    if received is None:
        return False
    request, fds = received
    try:
        args = console_args(request, sockets_dir)
        if len(fds) != 2:
            raise Refused("expected stdin and stdout")
        send(sock, pid=fork(args, fds, [sock, selector, wakeup[0], wakeup[1]]))
    except Refused as refused:
        log.warning("refused a request: %s", refused)
        send(sock, error=str(refused))
    finally:
        for fd in fds:
            os.close(fd)
    return True


def serve(sock: socket.socket, sockets_dir: Path) -> None:
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
                elif not answer(sock, sockets_dir, selector, wakeup):
                    return
            reap(sock)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_stderr(args.log_level.upper(), "zygote[%(process)d]")
    # SIGTERM from the host (or the terminal's SIGINT) ends it like its lifeline would.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(fileno=args.socket_fd)
    with contextlib.suppress(BrokenPipeError, ConnectionError, KeyboardInterrupt):
        serve(sock, args.sockets_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
