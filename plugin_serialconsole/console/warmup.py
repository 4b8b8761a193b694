"""Run, in the zygote, the asyncio code every console process runs, before any is forked.

CPython 3.11 writes into a function's code object while it warms up and specializes its
bytecode (the first few calls), and a forked child that runs a function the zygote never
ran makes that write itself, copying the page. Running the event loop, a Unix socket server
and client and a pipe reader here first leaves that code warm in pages every console
process shares: measured, a mock console process's private memory goes from 4.4 to 4.1 MB.
A capture's log (its writer thread, batches, banner lines) is warmed up the same way: an
idle capture's private memory goes from 4.35 to 4.14 MB (100 mock captures). So is a
capture served as a console process serves one (server, pump, ring, log), on a simulated
guest, as a real guest's console cannot be opened here: ~0.1 MB less per idle capture.

Everything it opens is closed again: it uses an abstract Unix socket (no file), a pipe and
a temporary directory it removes; the log's writer thread has ended (joined) before it
returns, and it leaves no loop set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
from pathlib import Path

from plugin_serialconsole import i18n
from plugin_serialconsole.console.logwriter import LogWriter
from plugin_serialconsole.console.server import ConsoleServer
from plugin_serialconsole.console.simulated import SimulatedConsole
from plugin_serialconsole.console.spec import ConsoleSettings
from plugin_serialconsole.consoles import Reason

log = logging.getLogger(__name__)

ROUNDS = 10  # more than the calls CPython needs to warm a function up (8 in 3.11)
LINE = b"warm\n"
WARMUP_CONSOLE = "0" * 24  # a console id (the log's file name)
WARMUP_GUEST = "warm-up"
CAPTURE_SETTINGS = ConsoleSettings(token_ttl=1.0, idle_timeout=0, grace=0, ring_size=4096)
BOOT_TIMEOUT = 1.0  # seconds for the simulated guest's boot output to be read


async def _exchange(address: str) -> None:
    """One line each way over a Unix socket server and client, and one over a pipe."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen()
    server = await asyncio.start_unix_server(echo, sock=listener)
    async with server:
        reader, writer = await asyncio.open_unix_connection(address)
        writer.write(LINE)
        await writer.drain()
        await reader.readline()
        writer.close()
        await writer.wait_closed()
    await _read_pipe()


async def _read_pipe() -> None:
    loop = asyncio.get_running_loop()
    read_end, write_end = os.pipe()
    with open(read_end, "rb", buffering=0) as pipe:
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        os.write(write_end, LINE)
        os.close(write_end)
        while await reader.readline():
            pass
        transport.close()
    timer = loop.call_later(0, lambda: None)
    timer.cancel()


def _capture_log(state_dir: Path) -> None:
    """A capture's log opened, written to and closed, in a directory removed afterwards."""
    writer = LogWriter(state_dir / "logs", WARMUP_CONSOLE, 4096)
    writer.open(booted=True)
    for _ in range(ROUNDS):
        writer.record(LINE)
    writer.mark_boot()
    writer.close("warm-up")


async def _serve_capture(state_dir: Path) -> None:
    """A simulated guest's capture served as a console process serves one (its log, the
    ring, the server and its pump) until its boot output is read, then ended as the host
    ends it. No client, so no socket."""
    writer = LogWriter(state_dir / "logs", WARMUP_CONSOLE, 4096)
    writer.open(booted=True)
    guest = SimulatedConsole(WARMUP_GUEST, boot=True)
    guest.on_reboot = writer.mark_boot
    server = ConsoleServer(guest, state_dir, _ignore, CAPTURE_SETTINGS, True, writer)
    running = asyncio.create_task(server.run(None))
    try:
        async with asyncio.timeout(BOOT_TIMEOUT):
            while not server.fanout.ring.snapshot().endswith(guest.prompt):
                await asyncio.sleep(0)
    finally:
        server.finish(Reason.HOST_STOPPING)
        reason, params = await running
        writer.close(i18n.translate(reason.message_code, params))


def _ignore(report: bytes) -> None:
    """Where the warm-up's console reports go (a console's go to the host)."""


def warm_up() -> None:
    """Run the exchange ROUNDS times, each on a loop of its own as a console's is, a
    capture's log ROUNDS times and a served capture ROUNDS times, each on a loop of its
    own."""
    address = f"\0serialconsole-warmup-{os.getpid()}"
    for _ in range(ROUNDS):
        asyncio.run(_exchange(address))
    try:
        with tempfile.TemporaryDirectory(prefix="serialconsole-warmup-") as state_dir:
            for _ in range(ROUNDS):
                _capture_log(Path(state_dir) / "state")
            for _ in range(ROUNDS):
                asyncio.run(_serve_capture(Path(state_dir) / "state"))
    except TimeoutError:  # before OSError, of which it is a kind
        log.warning("capture not warmed up: no boot output within %g s", BOOT_TIMEOUT)
    except OSError as error:  # only costs captures some memory: the zygote goes on
        log.warning("capture log not warmed up (temporary directory): %s", error)
