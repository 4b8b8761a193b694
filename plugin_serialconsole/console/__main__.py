"""Entry point of a console process (started by the host, not by hand).

    python -m plugin_serialconsole.console --uri URI --guest-uuid UUID --guest-name NAME \\
        --device ALIAS --socket PATH [--mode write|view] --accept-timeout S \\
        --idle-timeout S --grace S --ring-size BYTES [--force]

``--socket`` is the first invitation; the host asks for more on stdin, and they are made
in the same directory. Reports on stdout and takes ``invite`` and ``stop`` lines on stdin
(see ``protocol``); logs on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.session import HOST_STOPPED, ConsoleSession, Limits
from plugin_serialconsole.console.simulated import SimulatedConsole
from plugin_serialconsole.logfmt import configure_stderr

log = logging.getLogger("plugin_serialconsole.console")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m plugin_serialconsole.console",
        description="Serve one guest console device to the clients the host invites.",
    )
    parser.add_argument("--uri", required=True, help="libvirt URI of the host's connection")
    parser.add_argument("--guest-uuid", required=True)
    parser.add_argument("--guest-name", required=True, help="for messages only")
    parser.add_argument("--device", required=True, help="console device alias, e.g. serial0")
    parser.add_argument("--socket", required=True, type=Path, help="first Unix socket to serve")
    parser.add_argument(
        "--mode", choices=consoles.CLIENT_MODES, default=consoles.WRITE,
        help="of the first socket's client",
    )  # fmt: skip
    # No defaults here: the host passes the plugin's settings (one place for them).
    parser.add_argument("--accept-timeout", type=float, required=True, help="first socket's TTL")
    parser.add_argument("--idle-timeout", type=float, required=True, help="0 disables it")
    parser.add_argument("--grace", type=float, required=True, help="seconds kept detached")
    parser.add_argument("--ring-size", type=int, required=True, help="bytes of recent output")
    parser.add_argument("--force", action="store_true", help="take the console over")
    parser.add_argument("--lang", default=i18n.DEFAULT_LANGUAGE, help="language of final line")
    parser.add_argument("--log-level", default="INFO")
    return parser


def report(line: bytes) -> None:
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()


def open_guest(args: argparse.Namespace):
    if consoles.is_mock_uri(args.uri):
        return SimulatedConsole(args.guest_name)
    from plugin_serialconsole.console.libvirt_stream import LibvirtConsole

    guest = LibvirtConsole(args.uri, args.guest_uuid, args.device, force=args.force)
    guest.open()
    return guest


async def watch_host(session: ConsoleSession) -> None:
    """Obey ``invite`` and ``stop`` lines from the host; its end of file means it is gone."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        message = protocol.decode(line)
        event = message.get("event")
        if event == protocol.STOP and message.get("code") in i18n.messages:
            session.finish(message["code"])
            return
        if event == protocol.INVITE:
            invite = protocol.parse_invite(message)
            if invite is None:
                error = "malformed invitation"
                session.report(protocol.REFUSED, socket=str(message.get("socket")), error=error)
            else:
                await session.invite(invite)
    session.finish(HOST_STOPPED)


async def serve(args: argparse.Namespace) -> int:
    try:
        guest = open_guest(args)
    except protocol.ConsoleOpenError as error:
        report(protocol.encode(protocol.FAILED, code=error.code, params=error.params))
        return 1
    limits = Limits(args.idle_timeout, args.grace, args.ring_size)
    session = ConsoleSession(guest, args.socket.parent, report, limits)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, session.finish, HOST_STOPPED)
    host_watch = asyncio.create_task(watch_host(session))
    first = protocol.Invite(args.socket.name, args.mode, args.accept_timeout, args.lang)
    code, _params = await session.run(first)
    host_watch.cancel()
    log.info("console %s of %s ended: %s", args.device, args.guest_uuid, code)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_stderr(args.log_level.upper(), "console[%(process)d]")
    if args.ring_size < 1 or args.grace < 0:
        build_parser().error("--ring-size must be >= 1 and --grace >= 0")
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
