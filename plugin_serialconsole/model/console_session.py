"""One console session as the host sees it: a console process and one claim per socket.

Every client the host invites to the process gets a socket of its own and a ``Claim`` on
it: its mode, user, token, the login session that token was issued to, and its state,
``waiting`` (its token is out, nobody connected yet), ``connected``, then ``gone`` (it
left, its invitation lapsed, or it never came). Claims are kept until the process ends,
so that everything they name (sockets, tokens) is removed with it.

The writer slot is the claim of the one writer not gone; a session without one is
``detached`` (within the grace period after the writer left, or only viewers were ever
invited). What the process reports (``apply``) moves claims on; ``plan`` decides what a
new request does.

A writer's claim knows the login session its token was issued to. The same login asking
for the console again is that operator's page reloaded (or another tab of theirs): the
host hears that the old page's client left only a moment later, from the process, so the
request does not wait for it; it takes the seat over from its own earlier page (the newer
page wins) and reattaches. Any other login, the same operator's included, still finds the
console in use and needs a takeover.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from plugin_serialconsole import consoles
from plugin_serialconsole.bridge.tokens import IssuedToken, LoginBinding
from plugin_serialconsole.console import protocol
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.supervisor.process import ConsoleProcess

# States of a claim; a session's state is its writer's, else DETACHED.
WAITING = "waiting"
CONNECTED = "connected"
GONE = "gone"
DETACHED = "detached"

# What a request for a console does (see ``plan``).
START = "start"  # no session: start a console process
WAIT = "wait"  # the session's process is still starting: ask again once it is up
JOIN = "join"  # invite one more client to the running process
TAKE_OVER = "take over"  # end the session that holds the console, then start anew
REOPEN = "reopen"  # the writer's own login asks again (a reload): its writer goes, it joins
IN_USE = "in use"  # refused: the console has a writer


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Claim:
    """One socket of a session and the client it was made for."""

    socket: str
    mode: str
    user: str
    login: LoginBinding | None = None  # the login session its token was issued with
    token: str | None = None  # the digest of its token, once issued
    state: str = WAITING
    since: datetime = field(default_factory=_now)
    # ties together what is audited and recorded of this client's use of the console
    session_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def live(self) -> bool:
        return self.state != GONE

    def as_json(self) -> dict[str, Any]:
        since = self.since.isoformat(timespec="seconds")
        return {"user": self.user, "since": since, "state": self.state}


def _made_by(claim: Claim, user: str, login_digest: str | None) -> bool:
    """Whether ``claim`` is a client's of ``user`` (in login session ``login_digest``)."""
    if claim.mode not in consoles.CLIENT_MODES or claim.user != user:
        return False
    return login_digest is None or (claim.login is not None and claim.login.digest == login_digest)


@dataclass
class ConsoleSession:
    guest: Guest
    device: ConsoleDevice
    console_id: str
    since: datetime = field(default_factory=_now)
    claims: dict[str, Claim] = field(default_factory=dict)  # by socket name
    process: ConsoleProcess | None = None
    captured: bool = False  # a capture: started by the host, lives while the guest runs
    started: threading.Event = field(default_factory=threading.Event)
    ending: datetime | None = None  # when its process said it ends (it may not be reaped yet)
    ended: threading.Event = field(default_factory=threading.Event)

    def claim(self, mode: str, socket: str, user: str, login: LoginBinding | None = None) -> Claim:
        """Reserve the writer slot or a viewer's place for the client of ``socket``."""
        self.claims[socket] = Claim(socket, mode, user, login)
        return self.claims[socket]

    def release(self, socket: str) -> None:
        """The client of ``socket`` is gone, or never came."""
        if (claim := self.claims.get(socket)) is not None:
            claim.state = GONE

    def end_login(self, user: str, login_digest: str | None) -> list[Claim]:
        """Release the live client claims of a login that ended and return them as they
        were: those made in login session ``login_digest``, or with None all of ``user``'s."""
        ended = [c for c in self._live() if _made_by(c, user, login_digest)]
        as_they_were = [replace(claim) for claim in ended]
        for claim in ended:
            claim.state = GONE
        return as_they_were

    def apply(self, report: dict[str, Any]) -> None:
        """Follow what the console process reports about its clients."""
        event, claim = report.get("event"), self.claims.get(report.get("socket"))
        if claim is None or not claim.live:
            return
        if event == protocol.CONNECTED:
            claim.state = CONNECTED
        elif event in (protocol.LEFT, protocol.EXPIRED):
            claim.state = GONE

    def writer_of_login(self, user: str, login: LoginBinding | None) -> Claim | None:
        """The writer, if its token was issued to login session ``login`` of ``user``: that
        login asking again is the same operator's page reloaded, or another tab of it. Not
        while its own request is still issuing the token (two tabs of one login opening
        at once): taking it then would fail that request as if its login had ended."""
        writer = self.writer
        if login is None or writer is None or not _made_by(writer, user, login.digest):
            return None
        return writer if writer.token is not None else None

    def written_by(self, identity: Identity) -> bool:
        """Whether the writer's seat is held by ``identity`` (its login session, if any)."""
        writer = self.writer
        return writer is not None and _made_by(writer, identity.user, identity.session_digest)

    @property
    def writer(self) -> Claim | None:
        return next((c for c in self._live() if c.mode == consoles.WRITE), None)

    @property
    def viewers(self) -> list[Claim]:
        return [c for c in self._live() if c.mode == consoles.VIEW]

    @property
    def state(self) -> str:
        writer = self.writer
        return writer.state if writer is not None else DETACHED

    @property
    def user(self) -> str:
        """The writer's; once detached, the last writer's."""
        writers = [c for c in self.claims.values() if c.mode == consoles.WRITE]
        return writers[-1].user if writers else ""

    def of_guest(self, guest: Guest) -> bool:
        """A session of ``guest``: a copy on another hypervisor, with its UUID, is not it."""
        return (self.guest.hypervisor, self.guest.uuid) == (guest.hypervisor, guest.uuid)

    def where(self) -> dict[str, str]:
        """The guest and device, as messages name them."""
        return {"guest": self.guest.name, "device": self.device.alias}

    def _live(self) -> list[Claim]:
        return [c for c in list(self.claims.values()) if c.live]

    def as_json(self) -> dict[str, Any]:
        return {
            "guest": self.guest.name,
            "uuid": self.guest.uuid,
            "hypervisor": self.guest.hypervisor,
            "device": self.device.alias,
            "since": self.since.isoformat(timespec="milliseconds"),
            "state": self.state,
            "capture": self.captured,
            "pid": self.process.pid if self.process else None,
            "user": self.user,
            "viewers": [viewer.as_json() for viewer in self.viewers],
        }


@dataclass(frozen=True)
class Opened:
    """A token for one client of a session, and what that client will get first."""

    session: ConsoleSession
    token: IssuedToken
    mode: str
    reattached: bool  # joins a process that was already running
    replay: int  # bytes of recent output sent before live output
    escape: str = consoles.CTRL_Q_KEY  # the key that ends this client's session


def plan(holder: ConsoleSession | None, mode: str, force: bool, own: bool = False) -> str:
    """What a request for a ``mode`` client does, given the session holding the console;
    ``own``: its writer is the requesting login's (which the host may not have heard leave)."""
    if holder is None:
        return START
    if holder.process is None:
        return WAIT
    if mode == consoles.VIEW or holder.state == DETACHED:
        return JOIN
    if own:
        return REOPEN
    return TAKE_OVER if force else IN_USE
