"""The console process's server: the guest's output for each client, and when to end.

Clients come in through invitations (``invitations``), one token each: at most one
writer, whose input reaches the guest, and viewers, whose input is dropped (Ctrl+Q ends
just that viewer). The guest is read all the time into a ring (``fanout``), and each
client first gets the ring — the recent history — then live output.

The process lives while a client is attached or invited. After the last client has left
without Ctrl+Q (a closed tab, a network blip) it keeps reading the guest for the grace
period, so that a new writer can reattach and see what it missed. It ends on the first
of: Ctrl+Q from the writer, idle timeout, nobody within an invitation's time to live,
nobody back within the grace period (with grace 0: the writer leaving), the guest
console ending, a ``stop`` from the host, end of file from the host, SIGTERM. Every
client still attached is told why in a final line. When it ends for want of clients or
of activity is ``lifetime``'s to decide.

A capture (started by the host for a running guest, with no client) lives while the
guest runs: its clients come and go (Ctrl+Q, the idle timeout and the grace period end
clients, never the capture), and it ends only with the guest console, a ``stop`` or the
host. What it reads also goes to ``record`` (the capture log), which is cut where a
console session opens or ends and, with ``record_input``, keeps what the writer typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.clients import CHUNK, Client
from plugin_serialconsole.console.fanout import Fanout, GuestConsole
from plugin_serialconsole.console.invitations import Invitation
from plugin_serialconsole.console.lifetime import Lifetime
from plugin_serialconsole.console.logwriter import LogWriter
from plugin_serialconsole.console.protocol import Invite
from plugin_serialconsole.console.spec import ConsoleSettings
from plugin_serialconsole.consoles import ESCAPE_KEYS, ESCAPE_REASONS, TRANSCRIPT, WRITE, Reason
from plugin_serialconsole.sendkeys import CONTROL, SendRequest, control_byte

log = logging.getLogger(__name__)

TRANSCRIPT_TIMEOUT = 10.0


class ConsoleServer:
    """Serves one guest console to the clients the host invites."""

    def __init__(
        self,
        guest: GuestConsole,
        directory: Path,
        report: Callable[[bytes], None],
        settings: ConsoleSettings,
        capture: bool = False,
        capture_log: LogWriter | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.capture = capture
        self.capture_log = capture_log
        record = capture_log.record if capture_log is not None else None
        self.guest = guest
        self.directory = directory
        self._report = report
        self.settings = settings
        self._lifetime = Lifetime(
            settings, capture, self._occupied, self.finish, self._send_all_away
        )
        self.fanout = Fanout(guest, settings.ring_size, self._lifetime.touch, record)
        self._finished: asyncio.Future[tuple[Reason, dict]] = loop.create_future()
        self._invitations: dict[str, Invitation] = {}
        self._clients: dict[str, Client] = {}
        self._writer: Client | None = None
        self._background: set[asyncio.Task] = set()

    def report(self, event: str, **fields: object) -> None:
        self._report(protocol.encode(event, **fields))

    def finish(self, reason: Reason, **params: object) -> None:
        """End the console for ``reason``; the first reason wins."""
        if not self._finished.done():
            self._finished.set_result((reason, params))

    async def run(self, first: Invite | None) -> tuple[Reason, dict]:
        """Serve until the end; ``first`` is the invitation the process starts with (a
        capture starts with none)."""
        if first is not None:
            self._lifetime.first_invited(first.ttl)
            await self._open(first, replace=True)
        socket = first.socket if first is not None else ""
        self.report(protocol.READY, socket=socket, replay=len(self.fanout.ring))
        tasks = [asyncio.create_task(self._pump())]
        if self.settings.idle_timeout > 0:
            tasks.append(asyncio.create_task(self._lifetime.watch_idle()))
        try:
            reason, params = await self._finished
        finally:
            for task in tasks:
                task.cancel()
            self._lifetime.stop()
            for invitation in list(self._invitations.values()):
                invitation.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        code = reason.message_code
        await asyncio.gather(*(client.finish(code, params) for client in clients))
        self.guest.close()
        self.report(protocol.ENDED, reason=reason, params=params)
        return reason, params

    # invitations -------------------------------------------------------------

    async def invite(self, invite: Invite) -> None:
        """Open a socket for one more client, as the host asks; answer either way."""
        error = self._refusal(invite)
        if error is None:
            try:
                await self._open(invite)
            except OSError as failure:
                error = failure.strerror or str(failure)
        if error is not None:
            self.report(protocol.REFUSED, socket=invite.socket, error=error)
        else:
            replay = len(self.fanout.ring)  # with no wait between: the client's first byte
            self.report(protocol.INVITED, socket=invite.socket, replay=replay, **self._cut())

    def _refusal(self, invite: Invite) -> str | None:
        if self._finished.done():
            return "the console is ending"
        writers = [i for i in self._invitations.values() if i.mode == WRITE]
        if invite.mode == WRITE and (self._writer is not None or writers):
            return "the console has a writer"
        return None

    async def _open(self, invite: Invite, replace: bool = False) -> None:
        invitation = Invitation(self.directory, invite)
        await invitation.open(self._admit, self._expired, replace)
        self._invitations[invite.socket] = invitation
        self._lifetime.reconsider()  # a pending invitation keeps the process

    def send_away(self, name: str, reason: Reason) -> None:
        """The host's ``drop``: the client of socket ``name`` goes, after a last line saying
        why, or its invitation is withdrawn. A writer sent away leaves the console detached
        (the grace period applies), like a writer that left; a viewer is just gone."""
        if (invitation := self._invitations.pop(name, None)) is not None:
            invitation.close()
            self._lifetime.invitation_gone(reason)
            self.report(protocol.EXPIRED, socket=name, mode=invitation.mode, **self._cut())
            self._lifetime.reconsider()
        elif (client := self._clients.get(name)) is not None:
            self._drop(client, reason)

    def _expired(self, invitation: Invitation) -> None:
        self._invitations.pop(invitation.name, None)
        self._lifetime.invitation_gone(None)  # lapsed unused
        self.report(protocol.EXPIRED, socket=invitation.name, mode=invitation.mode, **self._cut())
        self._lifetime.reconsider()

    def _admit(
        self, invitation: Invitation, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._invitations.pop(invitation.name, None)
        if self._finished.done():
            writer.close()
        elif invitation.mode == TRANSCRIPT:
            self._spawn(_send_and_close(writer, self.fanout.ring.pieces(CHUNK)))
            self._lifetime.reconsider()
        else:
            self._attach(invitation, reader, writer)

    def _attach(
        self, invitation: Invitation, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writes = invitation.mode == WRITE
        client = Client(invitation, reader, writer, self.fanout.attach(holds=writes))
        self._lifetime.came()
        self._clients[client.name] = client
        if writes:
            self._writer = client
        client.start(self._on_input, self._drop)
        self.report(protocol.CONNECTED, socket=client.name, mode=client.mode)

    # clients -----------------------------------------------------------------

    async def _on_input(self, client: Client, data: bytes) -> bool:
        escape = ESCAPE_KEYS[client.escape]
        quit_at = data.find(escape) if escape else -1
        if client is not self._writer:  # a viewer: nothing reaches the guest
            if quit_at >= 0:
                self._drop(client, ESCAPE_REASONS[client.escape])
                return False
            return True
        self._lifetime.touch()
        if quit_at >= 0:
            if quit_at:
                self._typed(client, data[:quit_at])
                await self.guest.write(data[:quit_at])
            if self.capture:
                self._drop(client, ESCAPE_REASONS[client.escape])
            else:
                self.finish(ESCAPE_REASONS[client.escape])
            return False
        self._typed(client, data)
        await self.guest.write(data)
        return True

    def _typed(self, client: Client, data: bytes) -> None:
        if self.capture_log is not None:
            self.capture_log.record_input(client.session, data)

    def _cut(self) -> dict[str, float]:
        """A console session opens or ends now: the capture log (if any) is cut here; the
        report's ``at``, when (unix time)."""
        return {"at": self.capture_log.cut()} if self.capture_log is not None else {}

    async def deliver(self, request: SendRequest) -> None:
        """The host's ``send``: a control key goes to the guest as typed input, past any
        escape key; what the hypervisor was sent goes to the guest console to answer."""
        if self._finished.done():
            return
        if request.action == CONTROL:
            self._lifetime.touch()
            await self.guest.write(control_byte(request.key))
        else:
            self.guest.signal(request)

    def _drop(self, client: Client, reason: Reason | None = None) -> None:
        """``client`` has gone (or, with ``reason``, is sent away); the others go on."""
        if client.gone or self._finished.done():
            return
        self._clients.pop(client.name, None)
        self.fanout.detach(client.cursor)
        client.hang_up(reason.message_code if reason else None)
        why = {"reason": str(reason)} if reason else {}
        self.report(protocol.LEFT, socket=client.name, mode=client.mode, **why, **self._cut())
        writer = client is self._writer
        if writer:
            self._writer = None
        self._lifetime.client_left(writer)

    def _occupied(self) -> bool:
        """A client is attached or invited, or the console already ends."""
        return bool(self._clients or self._invitations) or self._finished.done()

    def _send_all_away(self, reason: Reason, **params: object) -> None:
        """Every client of a capture goes, told why; the capture reads on."""
        for client in list(self._clients.values()):
            if client.gone:
                continue
            self._clients.pop(client.name, None)
            self.fanout.detach(client.cursor)
            if client is self._writer:
                self._writer = None
            client.hang_up(reason.message_code, params)
            left = {"reason": str(reason), "params": params, **self._cut()}
            self.report(protocol.LEFT, socket=client.name, mode=client.mode, **left)

    async def _pump(self) -> None:
        try:
            await self.fanout.pump()
        except Exception as error:  # a broken guest console must still end the process
            log.exception("reading the guest console failed")
            self.finish(Reason.CONSOLE_CLOSED, error=str(error))
            return
        reason, params = self.guest.end_reason or (
            Reason.CONSOLE_CLOSED,
            {"error": "end of output"},
        )
        self.finish(reason, **params)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _send_and_close(writer: asyncio.StreamWriter, pieces: list[bytes]) -> None:
    with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
        async with asyncio.timeout(TRANSCRIPT_TIMEOUT):
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
    writer.close()
