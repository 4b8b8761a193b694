"""Console sessions: one writer per guest console device, each its own process.

A session owns a console process, a socket in the sockets directory and one token. When
the process ends, for whatever reason, its watcher thread reaps it and removes the socket
and the token, so nothing outlives a session.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin_serialconsole import i18n
from plugin_serialconsole.bridge.tokens import IssuedToken, SessionBinding, TokenStore
from plugin_serialconsole.errors import SerialConsoleError, console_in_use
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.ids import console_id
from plugin_serialconsole.model.guests import ConsoleDevice, Guest, GuestModel
from plugin_serialconsole.model.process import ConsoleProcess, ConsoleSpec, start_watcher

log = logging.getLogger(__name__)

WAITING = "waiting"
CONNECTED = "connected"
STOP_TIMEOUT = 5.0
OPERATOR_ENDED = "SCONS0106L"
TAKEN_OVER = "SCONS0107L"
HOST_STOPPING = "SCONS0105L"
GUEST_STOPPED = "SCONS0104L"


@dataclass(frozen=True)
class SessionSettings:
    uri: str
    sockets_dir: Path
    token_ttl: float
    idle_timeout: float
    max_sessions: int = 100


@dataclass
class Session:
    guest: Guest
    device: ConsoleDevice
    console_id: str
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = WAITING
    token_digest: str = ""
    user: str = ""
    process: ConsoleProcess | None = None
    ended: threading.Event = field(default_factory=threading.Event)

    def as_json(self) -> dict[str, Any]:
        return {
            "guest": self.guest.name,
            "uuid": self.guest.uuid,
            "device": self.device.alias,
            "since": self.since.isoformat(timespec="seconds"),
            "state": self.state,
            "pid": self.process.pid if self.process else None,
            "user": self.user,
        }


def _binding(identity: Identity | None) -> SessionBinding | None:
    if identity is None or not identity.session_cookie or not identity.session_digest:
        return None
    return SessionBinding(identity.session_cookie, identity.session_digest)


class SessionManager:
    """Opens, lists and ends console sessions."""

    def __init__(self, guests: GuestModel, tokens: TokenStore, settings: SessionSettings) -> None:
        self.guests = guests
        self.tokens = tokens
        self.settings = settings
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(
        self,
        guest: Guest,
        alias: str | None,
        force: bool = False,
        language: str = "en",
        identity: Identity | None = None,
    ) -> tuple[Session, IssuedToken]:
        """Start a console process for one device of a running guest; return its token,
        bound to the login session of ``identity`` when it has one."""
        if not guest.running:
            raise SerialConsoleError("SCONS0002E", 409, guest=guest.name, state=guest.state)
        device = guest.device(alias)
        session = Session(guest, device, console_id(guest.uuid, device.alias))
        session.user = identity.user if identity else ""
        self._reserve(session, force)
        try:
            session.process = ConsoleProcess.start(self._spec(session, force, language))
            token = self.tokens.issue(
                session.console_id, self.settings.token_ttl, _binding(identity)
            )
        except BaseException:
            self._release(session)
            if session.process is not None:
                session.process.kill()
            raise
        session.token_digest = token.digest
        start_watcher(
            session.process, lambda r: self._on_report(session, r), lambda: self._on_exit(session)
        )
        log.info("%s", i18n.translate("SCONS0110L", {"guest": guest.name, "device": device.alias}))
        return session, token

    def _spec(self, session: Session, force: bool, language: str) -> ConsoleSpec:
        return ConsoleSpec(
            uri=self.settings.uri,
            guest_uuid=session.guest.uuid,
            guest_name=session.guest.name,
            device=session.device.alias,
            socket_path=self.settings.sockets_dir / session.console_id,
            idle_timeout=self.settings.idle_timeout,
            accept_timeout=self.settings.token_ttl,
            force=force,
            language=language,
        )

    def _reserve(self, session: Session, force: bool) -> None:
        """Claim the device for ``session``; with ``force``, end whoever holds it first."""
        with self._lock:
            holder = self._sessions.get(session.console_id)
            if holder is None:
                if len(self._sessions) >= self.settings.max_sessions:
                    raise SerialConsoleError("SCONS0018E", 503, limit=self.settings.max_sessions)
                self._sessions[session.console_id] = session
                return
            if not force or holder.process is None:
                raise console_in_use(session.guest.name, session.device.alias)
        self._end(holder, TAKEN_OVER)
        with self._lock:
            if self._sessions.setdefault(session.console_id, session) is not session:
                raise console_in_use(session.guest.name, session.device.alias)

    def _release(self, session: Session) -> None:
        with self._lock:
            if self._sessions.get(session.console_id) is session:
                del self._sessions[session.console_id]

    def _on_report(self, session: Session, report: dict[str, Any]) -> None:
        if report.get("event") == "connected":
            session.state = CONNECTED

    def _on_exit(self, session: Session) -> None:
        """The process is reaped: remove everything the session left."""
        self._release(session)
        self.tokens.revoke(session.token_digest)
        socket_path = session.process.spec.socket_path
        if socket_path.is_socket():
            with self._lock:
                if session.console_id not in self._sessions:
                    socket_path.unlink(missing_ok=True)
        code, params = session.process.end or ("SCONS0109L", {"error": "process died"})
        if code == GUEST_STOPPED:
            self._guest_stopped(session.guest)
        reason = i18n.translate(code, params)
        log.info(
            "%s",
            i18n.translate(
                "SCONS0111L",
                {"guest": session.guest.name, "device": session.device.alias, "reason": reason},
            ),
        )
        session.ended.set()

    def _guest_stopped(self, guest: Guest) -> None:
        """One console saw the guest stop: so do the guest's other consoles."""
        self.guests.guest_stopped(guest.uuid)
        for other in self._sessions_of(guest):
            other.process.request_stop(GUEST_STOPPED)

    def _end(self, session: Session, code: str) -> None:
        """Stop a session's process and wait until it is cleaned up."""
        session.process.request_stop(code)
        if not session.ended.wait(STOP_TIMEOUT):
            log.warning("console process %s ignored stop; killing it", session.process.pid)
            session.process.kill()
            session.ended.wait(STOP_TIMEOUT)

    def close(self, guest: Guest, alias: str | None = None) -> int:
        """End the guest's sessions (one device's, if given); return how many ended."""
        mine = [s for s in self._sessions_of(guest) if alias in (None, s.device.alias)]
        if not mine:
            raise SerialConsoleError("SCONS0008E", 404, guest=guest.name)
        for session in mine:
            self._end(session, OPERATOR_ENDED)
        return len(mine)

    def list(self) -> list[Session]:
        """Sessions whose process runs (not those still starting)."""
        with self._lock:
            return [s for s in self._sessions.values() if s.process is not None]

    def _sessions_of(self, guest: Guest) -> list[Session]:
        return [s for s in self.list() if s.guest.uuid == guest.uuid]

    def stop_all(self) -> None:
        # Ask every process first so they wind down in parallel, then wait for each.
        for session in self.list():
            session.process.request_stop(HOST_STOPPING)
        for session in self.list():
            self._end(session, HOST_STOPPING)
