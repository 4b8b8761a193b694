"""The console process behind each console session: its start (the spec it gets), its
reports, its end, and the cleanup after it (sockets, tokens), so nothing outlives a
session. ``SessionManager`` builds on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.activity import Activity
from plugin_serialconsole.audit import EXPIRED, AuditTrail
from plugin_serialconsole.bridge.tokens import IssuedToken, TokenStore
from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.spec import ConsoleSpec
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.errors import authentication_required
from plugin_serialconsole.logfmt import level_name
from plugin_serialconsole.model.console_session import Claim, ConsoleSession
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.model.recording_index import RecordingIndex
from plugin_serialconsole.rights import Access
from plugin_serialconsole.settings import Settings
from plugin_serialconsole.supervisor.launcher import Launch, spawn
from plugin_serialconsole.supervisor.process import ConsoleProcess, InviteFailed, start_watcher

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
# How long after a console ended with its hypervisor's loss its next start takes it back
# from our dead connection: past that, whoever holds it is another client.
HELD_BY_THE_LOST = 60.0


@dataclass(frozen=True)
class StartChoices:
    """What a console process is started with that its session does not say."""

    mode: str  # its first client's
    force: bool  # take the device over from another libvirt client
    language: str  # of its first client's final line
    escape: str  # its first client's escape key
    booted: bool = False  # the guest has just started: a capture's log gets a boot line


def _opener(claims: Iterable[Claim]) -> str | None:
    """Who opened a session: the operator of its first claim."""
    return next((claim.user for claim in claims), None)


class SessionProcesses:
    """The registry of sessions (``_sessions`` under ``_lock``) and their processes."""

    def __init__(
        self,
        guests: Fleet,
        tokens: TokenStore,
        settings: Settings,
        uris: Mapping[str, str],
        sockets_dir: Path,
        launch: Launch = spawn,
        audit: AuditTrail | None = None,
    ) -> None:
        self.guests = guests
        self.tokens = tokens
        self.settings = settings
        # each hypervisor's URI by name: a console process opens its guest's one again
        self.uris = uris
        self.sockets_dir = sockets_dir
        self.launch = launch
        self.audit = audit or AuditTrail()  # without one, events go nowhere
        self._lock = threading.Lock()
        self._sessions: dict[str, ConsoleSession] = {}
        # Consoles whose session ended because their hypervisor stopped answering: libvirtd
        # there may still hold them for our dead connection (until its keepalive or our
        # socket's retried close reaches it, some 30 s), so the next start takes them back.
        self._held_by_the_lost: dict[str, float] = {}  # console id: when (monotonic)
        self.recordings = RecordingIndex(settings.capture.logs_dir)

    def _start(self, session: ConsoleSession, choices: StartChoices) -> int:
        """Start ``session``'s console process as ``choices`` ask; if it does not start
        (its spec refused included), the session is forgotten. Returns how many bytes of
        recent output its first client gets first."""
        with self._lock:
            lost_at = self._held_by_the_lost.pop(session.console_id, None)
        if lost_at is not None and time.monotonic() - lost_at < HELD_BY_THE_LOST:
            log.info("console %s: taken back from the connection lost with its hypervisor",
                     where_of(session))  # fmt: skip
            choices = replace(choices, force=True)
        try:
            process = ConsoleProcess.start(self._spec(session, choices), self.launch)
        except BaseException:
            self._release(session)
            session.started.set()
            raise
        session.process = process
        start_watcher(
            process, lambda r: self._on_report(session, r), lambda: self._on_exit(session)
        )
        session.started.set()
        if session.captured:  # the host's doing: its clients' opening is the activity
            log.info("console %s captured", where_of(session))
        else:
            self._activity(i18n.SESSION_OPENED, session, _opener(session.claims.values()))
        return process.replay

    def _activity(
        self, code: str, session: ConsoleSession, user: str | None, **params: object
    ) -> None:
        """Log what an operator did with a console, for hosts that keep an activity log."""
        done = Activity(code, {**session.where(), **params}, user)
        log.info("%s", i18n.translate(done.code, done.params), extra=done.extra())

    def _spec(self, session: ConsoleSession, choices: StartChoices) -> ConsoleSpec:
        """What ``session``'s console process is told: ``choices``, and the rest from the
        session and the settings."""
        logs = self.settings.capture.logs_dir if session.captured else None
        return ConsoleSpec(
            settings=self.settings.console,
            uri=self.uris[session.guest.hypervisor],
            guest_uuid=session.guest.uuid,
            guest_name=session.guest.name,
            device=session.device.alias,
            socket_path=self.sockets_dir / session.console_id,
            mode=choices.mode,
            force=choices.force,
            language=choices.language,
            log_level=level_name("plugin_serialconsole.console"),
            escape=choices.escape,
            capture=session.captured,
            booted=choices.booted,
            log_dir=str(logs) if logs is not None else "",
        )

    def _invite(
        self, session: ConsoleSession, socket: str, mode: str, language: str, escape: str
    ) -> protocol.Invited:
        ttl = self.settings.console.token_ttl
        claim = session.claims[socket]
        try:
            return session.process.invite(socket, mode, ttl, language, escape, claim.session_id)
        except InviteFailed:
            with self._lock:
                session.release(socket)
            raise

    def _issue(
        self, session: ConsoleSession, socket: str, started: bool, access: Access | None
    ) -> IssuedToken:
        claim = session.claims[socket]
        try:
            ttl = self.settings.console.token_ttl
            token = self.tokens.issue(socket, ttl, claim.login, access)
        except BaseException:
            if started:
                session.process.kill()  # its watcher cleans up
            else:
                with self._lock:
                    session.release(socket)
            raise
        with self._lock:
            claim.token = token.digest
            login_ended = not claim.live  # released by ``end_login`` meanwhile
            if not login_ended and self._sessions.get(session.console_id) is session:
                return token
        self.tokens.revoke(token.digest)
        if login_ended:
            session.process.drop(socket, Reason.LOGIN_ENDED)
            raise authentication_required()
        raise InviteFailed("the console process ended")  # its cleanup has run already

    def _send_away(
        self, session: ConsoleSession, claim: Claim, reason: Reason, replaced_by: str | None = None
    ) -> None:
        """The client of ``claim`` (released already) goes, told why, or its invitation
        is withdrawn; its console session ends for ``reason`` (its seat taken by console
        session ``replaced_by``, if given) and its token is revoked."""
        self.audit.ended(claim.session_id, reason.value, replaced_by)
        session.process.drop(claim.socket, reason)
        if claim.token is not None:
            self.tokens.revoke(claim.token)

    def _release(self, session: ConsoleSession) -> None:
        with self._lock:
            self._forget(session)

    def _forget(self, session: ConsoleSession) -> None:
        """Take ``session`` out of the registry (the lock held): it is closed."""
        if self._sessions.get(session.console_id) is session:
            del self._sessions[session.console_id]

    def _on_report(self, session: ConsoleSession, report: dict[str, Any]) -> None:
        event = report.get("event")
        with self._lock:
            claim = session.claims.get(report.get("socket"))
            session.apply(report)
            if event == protocol.ENDED:
                session.ending = datetime.now(UTC)
            digest = claim.token if claim is not None and event == protocol.EXPIRED else None
        if digest is not None:
            self.tokens.revoke(digest)
        if claim is not None:
            self._audit_report(claim, event, report)
        where = "{guest}/{device}".format(**session.where())
        if event in (protocol.CONNECTED, protocol.LEFT):
            log.info("console %s: %s client %s", where, report.get("mode"), event)
        if event in (protocol.LEFT, protocol.EXPIRED) and claim is not None:
            self._recording_ended(session, claim, report.get("at"), _left_reason(report))
        if event == protocol.LEFT and session.captured and claim is not None:
            # A capture lives on: for its operator, a console ends when the client goes.
            why = _left_reason(report)
            self._activity(i18n.SESSION_ENDED, session, claim.user, reason=why)
        elif event == protocol.EXPIRED:
            log.info("console %s: %s token expired unused", where, report.get("mode"))

    def _audit_report(self, claim: Claim, event: object, report: dict[str, Any]) -> None:
        """A client connected, left, or never came: its console session's events."""
        if event == protocol.CONNECTED:
            self.audit.connected(claim.session_id)
        elif event == protocol.LEFT:
            self.audit.ended(claim.session_id, _left_kind(report).value)
        elif event == protocol.EXPIRED:
            self.audit.ended(claim.session_id, EXPIRED)

    def _recording_opened(self, session: ConsoleSession, claim: Claim, at: float) -> None:
        """A client's console session of a capture opened: its recording starts ``at``
        (0: the capture keeps no log, so it has no recording; not one from the epoch)."""
        if session.captured and at > 0 and claim.mode in consoles.CLIENT_MODES:
            alias, key = session.device.alias, session.console_id
            self.recordings.opened(key, claim.session_id, claim.user, claim.mode, alias, at)

    def _recording_ended(self, session: ConsoleSession, claim: Claim, at: object, why: str) -> None:
        """A client's console session of a capture ended (``at``: when, by its process)."""
        if session.captured and claim.token is not None and claim.mode in consoles.CLIENT_MODES:
            when = float(at) if isinstance(at, int | float) else time.time()
            self.recordings.ended(session.console_id, claim.session_id, when, why)

    def _on_exit(self, session: ConsoleSession) -> None:
        """The process is reaped: remove everything the session left."""
        reason, params = session.process.end or (Reason.CONSOLE_CLOSED, {"error": "process died"})
        with self._lock:
            session.ending = session.ending or datetime.now(UTC)  # ended without saying so
        if reason == Reason.GUEST_STOPPED:  # before it is forgotten: nothing recaptures it
            self.guests.guest_stopped(session.guest)
        with self._lock:  # held while unlinking: a new session may bind the first socket
            if reason == Reason.HYPERVISOR_UNREACHABLE:
                now = time.monotonic()
                self._held_by_the_lost = {
                    key: when
                    for key, when in self._held_by_the_lost.items()
                    if now - when < HELD_BY_THE_LOST
                }
                self._held_by_the_lost[session.console_id] = now
            self._forget(session)
            claims = list(session.claims.values())
            reused = session.console_id in self._sessions  # a new session's first socket
            for name in {claim.socket for claim in claims} - (
                {session.console_id} if reused else set()
            ):
                path = self.sockets_dir / name
                if path.is_socket():
                    path.unlink(missing_ok=True)
        for digest in (claim.token for claim in claims if claim.token is not None):
            self.tokens.revoke(digest)
        if reason == Reason.GUEST_STOPPED:
            self._guest_stopped(session.guest)
        for claim in claims:  # those whose end was not written yet end with the console
            self.audit.ended(claim.session_id, reason.value)
        why = i18n.translate(reason.message_code, params)
        for claim in (claim for claim in claims if claim.live):  # still there at the end
            self._recording_ended(session, claim, None, why)
        if session.captured:
            log.info("capture of console %s ended: %s", where_of(session), why)
        else:
            self._activity(i18n.SESSION_ENDED, session, _opener(claims), reason=why)
        session.ended.set()

    def _guest_stopped(self, guest: Guest) -> None:
        """One console saw the run of ``guest`` stop (the model was told before the
        session was forgotten): so do the guest's other consoles of that run. Those of a
        run started since (another libvirt domain ID) may already be captured: they go on."""
        for other in self._sessions_of(guest):
            if other.guest.run_id == guest.run_id:
                other.process.request_stop(Reason.GUEST_STOPPED)

    def _end(self, session: ConsoleSession, reason: Reason, /, **params: str) -> None:
        """Stop a session's process and wait until it is cleaned up."""
        session.process.request_stop(reason, **params)
        if not session.ended.wait(STOP_TIMEOUT):
            log.warning("console process %s ignored stop; killing it", session.process.pid)
            session.process.kill()
            session.ended.wait(STOP_TIMEOUT)

    def list(self) -> list[ConsoleSession]:
        """Sessions whose process runs (not those still starting)."""
        with self._lock:
            return [s for s in self._sessions.values() if s.process is not None]

    def _sessions_of(self, guest: Guest) -> list[ConsoleSession]:
        return [s for s in self.list() if s.of_guest(guest)]


def where_of(session: ConsoleSession) -> str:
    return "{guest}/{device}".format(**session.where())


def _left_kind(report: dict[str, Any]) -> Reason:
    """Why a client left, as its console process said (a client that hung up says nothing)."""
    kind = report.get("reason")
    return Reason(kind) if kind in set(Reason) else Reason.CLIENT_CLOSED


def _left_reason(report: dict[str, Any]) -> str:
    """``_left_kind`` in words."""
    reason, params = _left_kind(report), report.get("params")
    return i18n.translate(reason.message_code, params if isinstance(params, dict) else {})
