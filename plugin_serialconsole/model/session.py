"""One console session as the host sees it: a console process, its writer and its viewers.

States of the writer slot: ``waiting`` (a writer's token is out, nobody connected yet),
``connected``, ``detached`` (no writer, the process still runs: within the grace period
after the writer left, or only viewers were ever invited). What the process reports
(``apply``) moves a session between them; ``plan`` decides what a new request does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from plugin_serialconsole import consoles
from plugin_serialconsole.bridge.tokens import IssuedToken
from plugin_serialconsole.console import protocol
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.supervisor.process import ConsoleProcess

WAITING = "waiting"
CONNECTED = "connected"
DETACHED = "detached"

# What a request for a console does (see ``plan``).
START = "start"  # no session: start a console process
WAIT = "wait"  # the session's process is still starting: ask again once it is up
JOIN = "join"  # invite one more client to the running process
TAKE_OVER = "take over"  # end the session that holds the console, then start anew
IN_USE = "in use"  # refused: the console has a writer


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Viewer:
    user: str
    since: datetime = field(default_factory=_now)
    state: str = WAITING

    def as_json(self) -> dict[str, Any]:
        since = self.since.isoformat(timespec="seconds")
        return {"user": self.user, "since": since, "state": self.state}


@dataclass
class Session:
    guest: Guest
    device: ConsoleDevice
    console_id: str
    since: datetime = field(default_factory=_now)
    state: str = DETACHED
    user: str = ""  # the writer's, the last one's once detached
    writer_socket: str | None = None
    viewers: dict[str, Viewer] = field(default_factory=dict)  # by socket name
    sockets: set[str] = field(default_factory=set)  # every one invited
    tokens: dict[str, str] = field(default_factory=dict)  # socket -> its token's digest
    process: ConsoleProcess | None = None
    closed: bool = False  # its process was reaped and cleaned up after
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    def claim(self, mode: str, socket: str, user: str) -> None:
        """Reserve the writer slot or a viewer place for the client of ``socket``."""
        self.sockets.add(socket)
        if mode == consoles.WRITE:
            self.state, self.writer_socket, self.user = WAITING, socket, user
        else:
            self.viewers[socket] = Viewer(user)

    def unclaim(self, socket: str) -> None:
        """The client of ``socket`` is gone, or never came."""
        if socket == self.writer_socket:
            self.state, self.writer_socket = DETACHED, None
        self.viewers.pop(socket, None)

    def apply(self, report: dict[str, Any]) -> None:
        """Follow what the console process reports about its clients."""
        event, socket = report.get("event"), report.get("socket")
        if event == protocol.CONNECTED:
            if socket == self.writer_socket:
                self.state = CONNECTED
            elif socket in self.viewers:
                self.viewers[socket].state = CONNECTED
        elif event in (protocol.LEFT, protocol.EXPIRED):
            self.unclaim(socket)

    def as_json(self) -> dict[str, Any]:
        return {
            "guest": self.guest.name,
            "uuid": self.guest.uuid,
            "device": self.device.alias,
            "since": self.since.isoformat(timespec="seconds"),
            "state": self.state,
            "pid": self.process.pid if self.process else None,
            "user": self.user,
            "viewers": [viewer.as_json() for viewer in list(self.viewers.values())],
        }


@dataclass(frozen=True)
class Opened:
    """A token for one client of a session, and what that client will get first."""

    session: Session
    token: IssuedToken
    mode: str
    reattached: bool  # joins a process that was already running
    replay: int  # bytes of recent output sent before live output


def plan(holder: Session | None, mode: str, force: bool) -> str:
    """What a request for a ``mode`` client does, given the session holding the console."""
    if holder is None:
        return START
    if holder.process is None:
        return WAIT
    if mode == consoles.VIEW or holder.state == DETACHED:
        return JOIN
    return TAKE_OVER if force else IN_USE
