"""Who is asking: login sessions behind a cookie, HTTP Basic for API clients, or nobody.

A login session is a random id in an HttpOnly, SameSite=Strict cookie (Secure over
HTTPS), kept here only as its SHA-256. Requests that change state and ride on the cookie
must also carry the session's CSRF token in ``X-CSRF-Token``: a page from another site
can make the browser send the cookie, never read the token.

A login ends on logout, and for every login of an operator the users file no longer
holds; whoever passed ``login_ended`` hears of it, to end what the login opened.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.host.passwords import UsersFile
from plugin_serialconsole.host.throttle import LoginThrottle
from plugin_serialconsole.httpvalues import SAFE_METHODS
from plugin_serialconsole.netloc import cookie_value

log = logging.getLogger(__name__)

COOKIE = "serialconsole_session"
CSRF_HEADER = "X-CSRF-Token"
ABSOLUTE_LIFETIME = 12 * 3600.0

# Told that a login ended: (user, the SHA-256 of its session id, or None for all of user's).
LoginEnded = Callable[[str, str | None], None]


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class LoginSession:
    user: str
    csrf_token: str
    created: float
    last_seen: float


class LoginSessions:
    """Live login sessions by digest; idle ones expire after ``idle_timeout`` seconds."""

    def __init__(self, idle_timeout: float) -> None:
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._sessions: dict[str, LoginSession] = {}

    def create(self, user: str) -> tuple[str, LoginSession]:
        session_id = secrets.token_urlsafe(32)
        now = time.monotonic()
        session = LoginSession(user, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._drop_expired(now)
            self._sessions[session_digest(session_id)] = session
        return session_id, session

    def find(self, session_id: str) -> LoginSession | None:
        now = time.monotonic()
        key = session_digest(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None or self._expired(session, now):
                self._sessions.pop(key, None)
                return None
            session.last_seen = now
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_digest(session_id), None)

    def drop_user(self, user: str) -> int:
        """End every login session of ``user``; return how many there were."""
        with self._lock:
            keys = [key for key, session in self._sessions.items() if session.user == user]
            for key in keys:
                del self._sessions[key]
        return len(keys)

    def _expired(self, session: LoginSession, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_timeout or now - session.created > ABSOLUTE_LIFETIME
        )

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def session_cookie(headers: Any) -> str | None:
    """The login session id the request's Cookie header carries, if any."""
    return cookie_value(headers.get("Cookie", ""), COOKIE)


def basic_credentials(headers: Any) -> tuple[str, str] | None:
    scheme, _, encoded = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (name, password) if colon else None


class Throttled(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry in {seconds:.0f} s")
        self.seconds = seconds


class Authenticator:
    """Decides who the current request comes from (``Host.check_auth``), with the
    operators of the users file at ``users_path``, and ends logins."""

    def __init__(
        self,
        users_path: Path,
        sessions: LoginSessions,
        login_ended: LoginEnded = lambda user, login_digest: None,
    ) -> None:
        self.users = UsersFile(users_path, on_removed=self._operators_removed)
        self.sessions = sessions
        self.login_ended = login_ended
        self.throttle = LoginThrottle()

    def log_out(self, session_id: str, user: str) -> None:
        """End login session ``session_id`` of ``user``, and what it opened."""
        self.sessions.drop(session_id)
        self.login_ended(user, session_digest(session_id))

    def find_session(self, session_id: str) -> LoginSession | None:
        """The live login session ``session_id`` of an operator still in the users file."""
        self.check_users()  # an operator removed from the file is out at once
        return self.sessions.find(session_id)

    def check_users(self) -> None:
        """Re-read the users file if it changed, ending the logins of removed operators."""
        # An unreadable file is reported when a password is checked; logins stay as they are.
        with contextlib.suppress(OSError):
            self.users.users()

    def _operators_removed(self, names: set[str]) -> None:
        for name in sorted(names):
            count = self.sessions.drop_user(name)
            log.info("operator %s left the users file: %d login sessions end", name, count)
            self.login_ended(name, None)

    def check_password(self, address: str, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s; raises Throttled while guessing is slowed."""
        wait = self.throttle.wait_time(address, name)
        if wait > 0:
            raise Throttled(wait)
        if self.users.verify(name, password):
            self.throttle.succeeded(address, name)
            return True
        self.throttle.failed(address, name)
        log.warning("failed password for %r from %s", name, address)
        return False

    def identify(self, method: str, headers: Any, address: str = "") -> Identity | None:
        credentials = basic_credentials(headers)
        if credentials is not None:
            try:
                if self.check_password(address, *credentials):
                    name = credentials[0]
                    return Identity(user=name, groups=self.users.groups(name))
            except Throttled:
                pass
            return None
        session_id = session_cookie(headers)
        session = self.find_session(session_id) if session_id else None
        if session is None:
            return None
        csrf_ok = method in SAFE_METHODS or hmac.compare_digest(
            headers.get(CSRF_HEADER, ""), session.csrf_token
        )
        return Identity(
            user=session.user,
            session_cookie=COOKIE,
            session_digest=session_digest(session_id),
            csrf_ok=csrf_ok,
            groups=self.users.groups(session.user),
        )


class NoAuthentication:
    """``--auth none``: everyone on loopback is the operator, with every right."""

    def identify(self, method: str, headers: Any, address: str = "") -> Identity | None:
        return Identity(user="operator", all_rights=True)
