"""Invitations: one listening Unix socket per token the host hands out.

Each socket lets exactly one client in, in the mode the host asked for, and disappears
as soon as that client is in or its time to live is over; so every connection to a
console process corresponds to exactly one token.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path

from plugin_serialconsole.console.protocol import Invite

OnClient = Callable[["Invitation", asyncio.StreamReader, asyncio.StreamWriter], None]


def listen_unix(path: Path, replace: bool = False) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600 from the moment it exists.

    An existing file at ``path`` is an error unless ``replace`` (the first socket, whose
    name a killed process may have left behind)."""
    if replace:
        path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    sock.listen(1)
    return sock


class Invitation:
    """A socket in ``directory`` named ``invite.socket``, for one client."""

    def __init__(self, directory: Path, invite: Invite) -> None:
        self.invite = invite
        self.path = directory / invite.socket
        self._server: asyncio.AbstractServer | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._done = False

    @property
    def name(self) -> str:
        return self.invite.socket

    @property
    def mode(self) -> str:
        return self.invite.mode

    async def open(
        self, on_client: OnClient, on_expired: Callable[[Invitation], None], replace: bool = False
    ) -> None:
        sock = listen_unix(self.path, replace)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self._done:  # a second connection slipped into the backlog
                writer.close()
                return
            self.close()
            on_client(self, reader, writer)

        try:
            self._server = await asyncio.start_unix_server(accept, sock=sock)
        except BaseException:
            sock.close()
            self.path.unlink(missing_ok=True)
            raise
        self._timer = asyncio.get_running_loop().call_later(
            self.invite.ttl, self._expire, on_expired
        )

    def _expire(self, on_expired: Callable[[Invitation], None]) -> None:
        if not self._done:
            self.close()
            on_expired(self)

    def close(self) -> None:
        """No more connections: the socket goes away (a client already in stays)."""
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.close()
        self.path.unlink(missing_ok=True)
