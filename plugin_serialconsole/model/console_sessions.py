"""Console sessions: one console process per guest console device, one writer at a time.

A request for a console either starts a process, invites one more client to the running
one (a writer reattaching within the grace period, or a viewer), takes the console over
(ending the session that holds it) or is refused. Every client gets a token of its own,
naming a socket of its own. When the process ends, for whatever reason, its watcher
thread reaps it and removes its sockets and tokens, so nothing outlives a session.

A capture (``capture``) is such a process started by the host for a running guest, with
no client: requests join it like a reattach, a takeover sends its writer away instead of
ending it, and ``close`` ends its clients, not the capture, which lives while the guest
runs. Captures do not count against ``max_sessions``: that limit is on the processes
requests start; captures are bounded by the guests that run and the capture patterns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.activity import Activity
from plugin_serialconsole.bridge.tokens import IssuedToken, LoginBinding, TokenStore
from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.spec import ConsoleSpec
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.errors import (
    SerialConsoleError,
    authentication_required,
    console_in_use,
    console_unavailable,
    no_open_session,
    not_running,
    too_many_sessions,
    too_many_viewers,
)
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.ids import console_id, invitation_name
from plugin_serialconsole.logfmt import level_name
from plugin_serialconsole.model.console_session import (
    JOIN,
    START,
    TAKE_OVER,
    WAIT,
    WAITING,
    Claim,
    ConsoleSession,
    Opened,
    plan,
)
from plugin_serialconsole.model.guests import ConsoleDevice, Guest, GuestModel
from plugin_serialconsole.rights import Access
from plugin_serialconsole.sendkeys import SendRequest
from plugin_serialconsole.settings import Settings
from plugin_serialconsole.supervisor.launcher import Launch, spawn
from plugin_serialconsole.supervisor.process import (
    STARTUP_TIMEOUT,
    ConsoleProcess,
    InviteFailed,
    start_watcher,
)

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
ATTEMPTS = 10


def _opener(claims: Iterable[Claim]) -> str | None:
    """Who opened a session: the operator of its first claim."""
    return next((claim.user for claim in claims), None)


def _login(identity: Identity | None) -> LoginBinding | None:
    """The login session of ``identity``, which its tokens are bound to."""
    if identity is None or not identity.session_cookie or not identity.session_digest:
        return None
    return LoginBinding(identity.session_cookie, identity.session_digest)


class SessionManager:
    """Opens, lists and ends console sessions."""

    def __init__(
        self,
        guests: GuestModel,
        tokens: TokenStore,
        settings: Settings,
        uri: str,
        sockets_dir: Path,
        launch: Launch = spawn,
    ) -> None:
        self.guests = guests
        self.tokens = tokens
        self.settings = settings
        self.uri = uri  # the host's connection's, which each console process opens again
        self.sockets_dir = sockets_dir
        self.launch = launch
        self._lock = threading.Lock()
        self._sessions: dict[str, ConsoleSession] = {}

    def open(
        self,
        guest: Guest,
        alias: str | None,
        force: bool = False,
        language: str = "en",
        identity: Identity | None = None,
        mode: str = consoles.WRITE,
        escape: str | None = None,
    ) -> Opened:
        """A token for a ``mode`` client of one device of a running guest, bound to the
        login session of ``identity`` when it has one; ``escape`` is the client's escape
        key (None: the configured one)."""
        escape = escape or self.settings.escape_key
        if not guest.running:
            raise not_running(guest.name, guest.state)
        device = guest.device(alias)
        if self.settings.capture.captures(guest.name):
            self._capture_first(guest, device)
        user, login = (identity.user if identity else ""), _login(identity)
        may_take_over = force  # once: a console taken meanwhile by another request stays
        for _ in range(ATTEMPTS):
            session, action, socket = self._claim(guest, device, mode, may_take_over, user, login)
            if action == WAIT:
                session.started.wait(STARTUP_TIMEOUT)
                continue
            if action == TAKE_OVER:
                if session.captured:
                    self._send_writer_away(session)
                else:
                    self._end(session, Reason.TAKEN_OVER)
                may_take_over = False
                continue
            try:
                if action == START:
                    replay = self._start(session, mode, force, language, escape)
                else:
                    replay = self._invite(session, socket, mode, language, escape)
                access = Access.of_client(identity, guest.name, mode)
                token = self._issue(session, socket, action == START, access)
            except InviteFailed as error:
                if session.ended.wait(STOP_TIMEOUT):
                    continue  # it was ending: start afresh
                raise console_unavailable(guest.name, str(error)) from None
            return Opened(session, token, mode, action == JOIN, replay, escape)
        raise console_in_use(guest.name, device.alias)

    def _capture_first(self, guest: Guest, device: ConsoleDevice) -> None:
        """A guest the policy captures, opened before its capture started (a request
        racing the guest's start): the capture starts now and the request joins it, so
        the console has one owner and the log misses nothing."""
        with self._lock:
            if console_id(guest.uuid, device.alias) in self._sessions:
                return
        self.capture(guest)

    def _claim(
        self,
        guest: Guest,
        device: ConsoleDevice,
        mode: str,
        force: bool,
        user: str,
        login: LoginBinding | None,
    ) -> tuple[ConsoleSession, str, str]:
        """Decide what the request does and reserve its place: (session, action, socket)."""
        key = console_id(guest.uuid, device.alias)
        with self._lock:
            holder = self._sessions.get(key)
            action = plan(holder, mode, force)
            if action == START:
                started = [s for s in self._sessions.values() if not s.captured]
                if len(started) >= self.settings.max_sessions:
                    raise too_many_sessions(self.settings.max_sessions)
                holder = self._sessions[key] = ConsoleSession(guest, device, key)
                socket = key
            elif action == JOIN:
                limit = self.settings.max_viewers
                if mode == consoles.VIEW and len(holder.viewers) >= limit:
                    raise too_many_viewers(guest.name, device.alias, limit)
                socket = invitation_name(key)
            elif action in (WAIT, TAKE_OVER):
                return holder, action, ""
            else:
                raise console_in_use(guest.name, device.alias)
            holder.claim(mode, socket, user, login)
            return holder, action, socket

    def _start(
        self,
        session: ConsoleSession,
        mode: str,
        force: bool,
        language: str,
        escape: str,
        booted: bool = False,
    ) -> int:
        try:
            spec = self._spec(session, mode, force, language, escape, booted)
            process = ConsoleProcess.start(spec, self.launch)
        except BaseException:
            self._release(session)
            session.started.set()
            raise
        session.process = process
        start_watcher(
            process, lambda r: self._on_report(session, r), lambda: self._on_exit(session)
        )
        session.started.set()
        opened = Activity(i18n.SESSION_OPENED, session.where(), _opener(session.claims.values()))
        log.info("%s", i18n.translate(opened.code, opened.params), extra=opened.extra())
        return process.replay

    def capture(self, guest: Guest, booted: bool = False) -> list[str]:
        """Have a capture on each console device of running ``guest``: start those missing
        (``booted``: the guest has just started), wait for those starting; return the
        aliases of the devices captured now."""
        captured: list[str] = []
        if not self._still_running(guest):  # e.g. listed a moment before it stopped
            return captured
        for device in guest.consoles:
            key = console_id(guest.uuid, device.alias)
            with self._lock:
                session = self._sessions.get(key)
                if session is None:
                    session = ConsoleSession(guest, device, key, captured=True)
                    self._sessions[key] = session
                    start = True
                else:
                    start = False
            if not start:
                session.started.wait(STARTUP_TIMEOUT)
                if session.process is not None and session.captured:
                    captured.append(device.alias)
                continue
            try:
                self._start(
                    session,
                    consoles.VIEW,
                    False,
                    i18n.DEFAULT_LANGUAGE,
                    self.settings.escape_key,
                    booted,
                )
            except SerialConsoleError as error:  # the keeper says so once, at INFO
                log.debug(
                    "console %s of guest %s not captured: %s",
                    device.alias, guest.name, i18n.translate(error.code, error.params),
                )  # fmt: skip
                continue
            captured.append(device.alias)
        return captured

    def _still_running(self, guest: Guest) -> bool:
        """Whether ``guest`` runs now (asked again only if a capture would start)."""
        with self._lock:
            if all(console_id(guest.uuid, d.alias) in self._sessions for d in guest.consoles):
                return True  # nothing to start: no need to ask libvirt
        try:
            return self.guests.lookup(guest.uuid).running
        except SerialConsoleError:
            return False

    def _send_writer_away(self, session: ConsoleSession) -> None:
        """A takeover of a capture: its writer goes, the capture stays."""
        with self._lock:
            writer = session.writer
            if writer is None:
                return
            session.release(writer.socket)
            digest = writer.token
        session.process.drop(writer.socket, Reason.TAKEN_OVER)
        if digest is not None:
            self.tokens.revoke(digest)

    def _spec(
        self,
        session: ConsoleSession,
        mode: str,
        force: bool,
        language: str,
        escape: str,
        booted: bool = False,
    ) -> ConsoleSpec:
        logs = self.settings.capture.logs_dir if session.captured else None
        return ConsoleSpec(
            settings=self.settings.console,
            uri=self.uri,
            guest_uuid=session.guest.uuid,
            guest_name=session.guest.name,
            device=session.device.alias,
            socket_path=self.sockets_dir / session.console_id,
            mode=mode,
            force=force,
            language=language,
            log_level=level_name("plugin_serialconsole.console"),
            escape=escape,
            capture=session.captured,
            booted=booted,
            log_dir=str(logs) if logs is not None else "",
        )

    def _invite(
        self, session: ConsoleSession, socket: str, mode: str, language: str, escape: str
    ) -> int:
        ttl = self.settings.console.token_ttl
        try:
            return session.process.invite(socket, mode, ttl, language, escape)
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
            digest = claim.token if claim is not None and event == protocol.EXPIRED else None
        if digest is not None:
            self.tokens.revoke(digest)
        where = "{guest}/{device}".format(**session.where())
        if event in (protocol.CONNECTED, protocol.LEFT):
            log.info("console %s: %s client %s", where, report.get("mode"), event)
        elif event == protocol.EXPIRED:
            log.info("console %s: %s token expired unused", where, report.get("mode"))

    def _on_exit(self, session: ConsoleSession) -> None:
        """The process is reaped: remove everything the session left."""
        reason, params = session.process.end or (Reason.CONSOLE_CLOSED, {"error": "process died"})
        if reason == Reason.GUEST_STOPPED:  # before it is forgotten: nothing recaptures it
            self.guests.guest_stopped(session.guest.uuid)
        with self._lock:  # held while unlinking: a new session may bind the first socket
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
        why = i18n.translate(reason.message_code, params)
        ended = Activity(i18n.SESSION_ENDED, {**session.where(), "reason": why}, _opener(claims))
        log.info("%s", i18n.translate(ended.code, ended.params), extra=ended.extra())
        session.ended.set()

    def _guest_stopped(self, guest: Guest) -> None:
        """One console saw the guest stop: so do the guest's other consoles (the model was
        told before the session was forgotten)."""
        for other in self._sessions_of(guest):
            other.process.request_stop(Reason.GUEST_STOPPED)

    def _end(self, session: ConsoleSession, reason: Reason) -> None:
        """Stop a session's process and wait until it is cleaned up."""
        session.process.request_stop(reason)
        if not session.ended.wait(STOP_TIMEOUT):
            log.warning("console process %s ignored stop; killing it", session.process.pid)
            session.process.kill()
            session.ended.wait(STOP_TIMEOUT)

    def close(self, guest: Guest, alias: str | None = None) -> int:
        """End the guest's sessions (one device's, if given); return how many ended."""
        mine = [s for s in self._sessions_of(guest) if alias in (None, s.device.alias)]
        if not mine:
            raise no_open_session(guest.name)
        for session in mine:
            if session.captured:
                self._send_clients_away(session, Reason.OPERATOR_ENDED)
            else:
                self._end(session, Reason.OPERATOR_ENDED)
        return len(mine)

    def _send_clients_away(self, session: ConsoleSession, reason: Reason) -> None:
        """End a capture's clients (and withdraw its invitations); the capture stays."""
        with self._lock:
            claims = [c for c in session.claims.values() if c.live]
            claims = [c for c in claims if c.mode in consoles.CLIENT_MODES]
            for claim in claims:
                session.release(claim.socket)
        for claim in claims:
            session.process.drop(claim.socket, reason)
            if claim.token is not None:
                self.tokens.revoke(claim.token)

    def end_login(self, user: str, login_digest: str | None) -> None:
        """A login ended: revoke its unused tokens and send its clients away (those of login
        session ``login_digest``; with None, every client of ``user``)."""
        ended = []
        with self._lock:  # a writer's drop goes out before a request can invite the next
            for session in self._sessions.values():
                for claim in session.end_login(user, login_digest):
                    if session.process is not None:  # else ``_issue`` sees it released
                        session.process.drop(claim.socket, Reason.LOGIN_ENDED)
                    ended.append(claim)
        for digest in (claim.token for claim in ended if claim.token is not None):
            self.tokens.revoke(digest)
        unused = sum(1 for claim in ended if claim.state == WAITING)
        log.info(
            "login of operator %s ended: %d unused console tokens revoked, %d clients sent away",
            user,
            unused,
            len(ended) - unused,
        )

    def deliver(self, guest: Guest, alias: str, request: SendRequest) -> bool:
        """Hand ``request`` to the console process of ``guest``'s device ``alias``; False
        when that console is not open."""
        with self._lock:
            session = self._sessions.get(console_id(guest.uuid, alias))
            process = session.process if session is not None else None
        return process is not None and process.send(request)

    def transcript(self, guest: Guest, alias: str | None = None) -> tuple[ConsoleSession, bytes]:
        """The recent output of the session on one device of ``guest``."""
        device = guest.device(alias)
        with self._lock:
            session = self._sessions.get(console_id(guest.uuid, device.alias))
            if session is None or session.process is None:
                raise no_open_session(guest.name)
            name = invitation_name(session.console_id)
            session.claim(consoles.TRANSCRIPT, name, "")  # its socket goes with the others
        try:
            return session, session.process.transcript(name, self.settings.console.ring_size)
        except InviteFailed as error:
            if session.ended.wait(STOP_TIMEOUT):
                raise no_open_session(guest.name) from None
            raise console_unavailable(guest.name, str(error)) from None
        finally:
            with self._lock:
                session.release(name)

    def list(self) -> list[ConsoleSession]:
        """Sessions whose process runs (not those still starting)."""
        with self._lock:
            return [s for s in self._sessions.values() if s.process is not None]

    def describe(self, guest: Guest | None = None) -> list[dict[str, Any]]:
        """The JSON of the sessions (of ``guest``'s, if given)."""
        with self._lock:
            sessions = [s for s in self._sessions.values() if s.process is not None]
            return [s.as_json() for s in sessions if guest is None or s.guest.uuid == guest.uuid]

    def _sessions_of(self, guest: Guest) -> list[ConsoleSession]:
        return [s for s in self.list() if s.guest.uuid == guest.uuid]

    def stop_all(self) -> None:
        # Ask every process first so they wind down in parallel, then wait for each.
        for session in self.list():
            session.process.request_stop(Reason.HOST_STOPPING)
        for session in self.list():
            self._end(session, Reason.HOST_STOPPING)
