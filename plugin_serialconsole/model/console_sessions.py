"""Console sessions: one console process per guest console device, one writer at a time.

A request for a console either starts a process, invites one more client to the running
one (a writer reattaching within the grace period, or a viewer), takes the console over
(ending the session that holds it), reopens it (the writer's own login asking again, a
reloaded page: that login's earlier client is sent away and the request joins) or is
refused. Every client gets a token of its own, naming a socket of its own. When the
process ends, for whatever reason, its watcher thread reaps it and removes its sockets
and tokens, so nothing outlives a session.

A capture (``capture``) is such a process started by the host for a running guest, with
no client: requests join it like a reattach, a takeover sends its writer away instead of
ending it, and ``close`` ends its clients, not the capture, which lives while the guest
runs. Captures do not count against ``max_sessions``: that limit is on the processes
requests start; captures are bounded by the guests that run and the capture patterns.
"""

from __future__ import annotations

import logging
from typing import Any

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.bridge.tokens import IssuedToken, LoginBinding
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.errors import (
    console_in_use,
    console_unavailable,
    no_open_session,
    not_running,
    too_many_sessions,
    too_many_viewers,
)
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.ids import console_id, console_of_socket, invitation_name
from plugin_serialconsole.model.console_session import (
    JOIN,
    REOPEN,
    START,
    TAKE_OVER,
    WAIT,
    WAITING,
    Claim,
    ConsoleSession,
    Opened,
    plan,
)
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.model.session_captures import SessionCaptures
from plugin_serialconsole.model.session_processes import STOP_TIMEOUT, StartChoices, where_of
from plugin_serialconsole.rights import Access
from plugin_serialconsole.sendkeys import SendRequest
from plugin_serialconsole.supervisor.process import STARTUP_TIMEOUT, InviteFailed

log = logging.getLogger(__name__)

ATTEMPTS = 10


def _login(identity: Identity | None) -> LoginBinding | None:
    """The login session of ``identity``, which its tokens are bound to."""
    if identity is None or not identity.session_cookie or not identity.session_digest:
        return None
    return LoginBinding(identity.session_cookie, identity.session_digest)


class SessionManager(SessionCaptures):
    """Opens, lists and ends console sessions."""

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
        if self.settings.capture.captures(guest.hypervisor, guest.name):
            self._capture_first(guest, device)
        user, login = (identity.user if identity else ""), _login(identity)
        may_take_over = force  # once: a console taken meanwhile by another request stays
        displaced: tuple[str, str | None] | None = None  # (console session, its operator)
        for _ in range(ATTEMPTS):
            place = self._claim(guest, device, mode, may_take_over, user, login)
            session, action, socket, reopened = place
            if action == WAIT:
                session.started.wait(STARTUP_TIMEOUT)
                continue
            if action == TAKE_OVER:
                displaced = self._displacing(session, user)
                if session.captured:
                    self._send_writer_away(session)
                else:
                    self._end(session, Reason.TAKEN_OVER)
                may_take_over = False
                continue
            if reopened is not None:  # its own earlier page, maybe not heard to leave yet
                log.info("console %s: reopened by its writer's login", where_of(session))
                successor = session.claims[socket].session_id
                self._send_away(session, reopened, Reason.REOPENED, successor)
            try:
                if action == START:
                    choices = StartChoices(mode, force, language, escape)
                    replay, at = self._start(session, choices), 0.0
                else:
                    invited = self._invite(session, socket, mode, language, escape)
                    replay, at = invited.replay, invited.at
                access = Access.of_client(identity, guest.hypervisor, guest.name, mode)
                # before its token exists: whatever ends the session then ends an open one
                opened_id = session.claims[socket].session_id
                self.audit.opened(opened_id, guest, device.alias, mode, identity)
                token = self._issue_audited(session, socket, action == START, access)
            except InviteFailed as error:
                if session.ended.wait(STOP_TIMEOUT):
                    continue  # it was ending: start afresh
                raise console_unavailable(guest.name, str(error)) from None
            if session.captured:  # a capture's process started long ago: this is the open
                self._activity(i18n.SESSION_OPENED, session, user)
                self._recording_opened(session, session.claims[socket], at)
            if displaced is not None:
                self.audit.took_over(opened_id, *displaced)
            return Opened(session, token, mode, action in (JOIN, REOPEN), replay, escape)
        raise console_in_use(guest.name, device.alias)

    def _issue_audited(
        self, session: ConsoleSession, socket: str, started: bool, access: Access | None
    ) -> IssuedToken:
        """``_issue``; a console session whose token could not be issued has ended."""
        try:
            return self._issue(session, socket, started, access)
        except BaseException:
            self.audit.ended(session.claims[socket].session_id, Reason.OPEN_FAILED.value)
            raise

    def _displacing(self, session: ConsoleSession, user: str) -> tuple[str, str | None] | None:
        """The writer ``user`` takes ``session`` over from: its console session and
        operator; its end will say who took over."""
        with self._lock:
            writer = session.writer
        if writer is None:
            return None
        return writer.session_id, self.audit.displacing(writer.session_id, user)

    def _claim(
        self,
        guest: Guest,
        device: ConsoleDevice,
        mode: str,
        force: bool,
        user: str,
        login: LoginBinding | None,
    ) -> tuple[ConsoleSession, str, str, Claim | None]:
        """Decide what the request does and reserve its place: (session, action, socket,
        the writer of the same login whose seat it takes, released here)."""
        key = console_id(guest.uuid, device.alias, guest.hypervisor)
        with self._lock:
            holder = self._sessions.get(key)
            own = holder.writer_of_login(user, login) if holder is not None else None
            action = plan(holder, mode, force, own is not None)
            if action == START:
                started = [s for s in self._sessions.values() if not s.captured]
                if len(started) >= self.settings.max_sessions:
                    raise too_many_sessions(self.settings.max_sessions)
                holder = self._sessions[key] = ConsoleSession(guest, device, key)
                socket = key
            elif action in (JOIN, REOPEN):
                limit = self.settings.max_viewers
                if mode == consoles.VIEW and len(holder.viewers) >= limit:
                    raise too_many_viewers(guest.name, device.alias, limit)
                socket = invitation_name(key)
            elif action in (WAIT, TAKE_OVER):
                return holder, action, "", None
            else:
                raise console_in_use(guest.name, device.alias)
            if action == REOPEN:
                holder.release(own.socket)
            holder.claim(mode, socket, user, login)
            return holder, action, socket, own if action == REOPEN else None

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
        for claim in ended:
            self.audit.ended(claim.session_id, Reason.LOGIN_ENDED.value)
        for digest in (claim.token for claim in ended if claim.token is not None):
            self.tokens.revoke(digest)
        unused = sum(1 for claim in ended if claim.state == WAITING)
        log.info(
            "login of operator %s ended: %d unused console tokens revoked, %d clients sent away",
            user,
            unused,
            len(ended) - unused,
        )

    def deliver(
        self, guest: Guest, alias: str, request: SendRequest, writer: Identity | None = None
    ) -> bool:
        """Hand ``request`` to the console process of ``guest``'s device ``alias``; False
        when that console is not open or, with ``writer``, when that operator's login does
        not hold its writer's seat: typing goes through one writer, as on the console."""
        with self._lock:
            session = self._sessions.get(console_id(guest.uuid, alias, guest.hypervisor))
            process = session.process if session is not None else None
            if writer is not None and (session is None or not session.written_by(writer)):
                return False
        return process is not None and process.send(request)

    def writer_session(self, guest: Guest, alias: str, identity: Identity) -> str | None:
        """The console session of ``identity`` holding the writer's seat of ``guest``'s
        device ``alias``, if they hold it: what they send to the guest is audited in it."""
        with self._lock:
            session = self._sessions.get(console_id(guest.uuid, alias, guest.hypervisor))
            if session is None or not session.written_by(identity):
                return None
            return session.writer.session_id

    def transcript(self, guest: Guest, alias: str | None = None) -> tuple[ConsoleSession, bytes]:
        """The recent output of the session on one device of ``guest``."""
        device = guest.device(alias)
        with self._lock:
            session = self._sessions.get(console_id(guest.uuid, device.alias, guest.hypervisor))
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

    def socket_owner(self, socket: str) -> tuple[Guest, str, str | None] | None:
        """The guest, device alias and console session id (None: its client is gone) of
        console socket ``socket``, while its console is open."""
        with self._lock:
            session = self._sessions.get(console_of_socket(socket))
            if session is None:
                return None
            claim = session.claims.get(socket)
            return session.guest, session.device.alias, claim.session_id if claim else None

    def describe(self, guest: Guest | None = None) -> list[dict[str, Any]]:
        """The JSON of the sessions (of ``guest``'s, if given)."""
        with self._lock:
            sessions = [s for s in self._sessions.values() if s.process is not None]
            return [s.as_json() for s in sessions if guest is None or s.of_guest(guest)]

    def stop_all(self) -> None:
        # Ask every process first so they wind down in parallel, then wait for each.
        for session in self.list():
            session.process.request_stop(Reason.HOST_STOPPING)
        for session in self.list():
            self._end(session, Reason.HOST_STOPPING)

    def end_hypervisor(self, name: str, /, **params: str) -> int:
        """End every session (captures too) of the guests of hypervisor ``name``, which
        stopped answering (``params``: of the reason's message); return how many ended."""
        mine = [s for s in self.list() if s.guest.hypervisor == name]
        for session in mine:
            session.process.request_stop(Reason.HYPERVISOR_UNREACHABLE, **params)
        for session in mine:
            self._end(session, Reason.HYPERVISOR_UNREACHABLE, **params)
        return len(mine)
