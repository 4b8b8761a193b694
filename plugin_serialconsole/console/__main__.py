"""Entry point of a console process (started by the host, not by hand).

    python -m plugin_serialconsole.console -- SPEC

``SPEC`` is one JSON document, a ``spec.ConsoleSpec``. Its socket is the first
invitation; the host asks for more on stdin, and they are made in the same directory.
Reports on stdout and takes ``invite``, ``drop``, ``send`` and ``stop`` lines on stdin
(see ``protocol``); logs on stderr.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.logwriter import LogWriter
from plugin_serialconsole.console.server import ConsoleServer
from plugin_serialconsole.console.simulated import SimulatedConsole
from plugin_serialconsole.console.spec import MODULE, ConsoleSpec, SpecError
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.logfmt import log_through, stderr_handler

log = logging.getLogger("plugin_serialconsole.console")

LOG_TAG = "console[%(process)d]"  # each log line's source


def report(line: bytes) -> None:
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()


def open_guest(spec: ConsoleSpec):
    if consoles.is_mock_uri(spec.uri):
        return SimulatedConsole(spec.guest_name, boot=spec.capture)
    from plugin_serialconsole.console.libvirt_stream import LibvirtConsole

    guest = LibvirtConsole(spec.uri, spec.guest_uuid, spec.device, force=spec.force)
    guest.open()
    return guest


def open_log(spec: ConsoleSpec) -> LogWriter | None:
    """The capture's log, if it keeps one and it can be opened (else it runs without)."""
    if not spec.capture or not spec.log_dir:
        return None
    settings = spec.settings
    writer = LogWriter(
        Path(spec.log_dir), spec.socket_path.name, settings.log_size, settings.record_input
    )
    try:
        writer.open(spec.booted)
    except (OSError, ValueError) as error:
        log.error("console %s of %s: no capture log: %s", spec.device, spec.guest_uuid, error)
        return None
    return writer


async def watch_host(server: ConsoleServer) -> None:
    """Obey ``invite``, ``drop``, ``send`` and ``stop`` lines from the host; its end of
    file means it is gone."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        message = protocol.decode(line)
        event = message.get("event")
        if event == protocol.STOP and (stop := protocol.parse_stop(message)) is not None:
            reason, params = stop
            server.finish(reason, **params)
            return
        if event == protocol.DROP and (drop := protocol.parse_drop(message)) is not None:
            server.send_away(drop.socket, drop.reason)
        if event == protocol.SEND and (request := protocol.parse_send(message)) is not None:
            await server.deliver(request)
        if event == protocol.INVITE:
            invite = protocol.parse_invite(message)
            if invite is None:
                error = "malformed invitation"
                server.report(protocol.REFUSED, socket=str(message.get("socket")), error=error)
            else:
                await server.invite(invite)
    server.finish(Reason.HOST_STOPPING)


async def serve(spec: ConsoleSpec) -> int:
    try:
        guest = open_guest(spec)
    except protocol.ConsoleOpenError as error:
        report(protocol.encode(protocol.FAILED, reason=error.reason, params=error.params))
        return 1
    capture_log = open_log(spec)
    if capture_log is not None:
        guest.on_reboot = capture_log.mark_boot
    server = ConsoleServer(
        guest, spec.sockets_dir, report, spec.settings, spec.capture, capture_log
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.finish, Reason.HOST_STOPPING)
    host_watch = asyncio.create_task(watch_host(server))
    reason, params = await server.run(spec.first_invite())
    host_watch.cancel()
    if capture_log is not None:
        capture_log.close(i18n.translate(reason.message_code, params))
    log.info("console %s of %s ended: %s", spec.device, spec.guest_uuid, reason)
    return 0


def run(spec: ConsoleSpec, log_handler: logging.Handler | None = None) -> int:
    """Serve ``spec`` to the end, logging to stderr through ``log_handler`` (the one the
    zygote made before forking: building it again in every child copied ~0.1 MB of its
    pages) or one made here."""
    log_through(log_handler or stderr_handler(LOG_TAG), spec.log_level)
    return asyncio.run(serve(spec))


def main(argv: list[str] | None = None) -> int:
    try:
        spec = ConsoleSpec.from_argv(sys.argv[1:] if argv is None else argv)
    except SpecError as error:
        print(f"usage: python -m {MODULE} -- SPEC: {error}", file=sys.stderr)
        return 2
    return run(spec)


if __name__ == "__main__":
    sys.exit(main())
