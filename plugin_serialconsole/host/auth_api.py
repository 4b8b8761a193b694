"""The host's login endpoints, mounted at ``/auth``.

    POST /auth/login     {"username", "password"} -> 200 {"user", "csrf_token"} + cookie
    POST /auth/logout    -> 204, the session and its cookie are gone, and so are the
                            console tokens and clients it opened (``wok_login_ended``)
    GET  /auth/session   -> 200 {"user", "csrf_token", "auth"} or 401

With ``--auth none`` only ``/auth/session`` answers (``"auth": "none"``), so a page can
tell it needs no login.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Callable
from typing import Any

import cherrypy

from plugin_serialconsole import i18n, languages
from plugin_serialconsole.host import framing
from plugin_serialconsole.host.login import (
    COOKIE,
    CSRF_HEADER,
    Authenticator,
    LoginSessions,
    Throttled,
    session_cookie,
    session_digest,
)
from plugin_serialconsole.netloc import origin_allowed

log = logging.getLogger(__name__)

MAX_LOGIN_BODY = 4096
LOGIN_OK, LOGIN_FAILED, LOGIN_THROTTLED = "ok", "failed", "throttled"

# Told of each login attempt: (user, outcome, client address, SHA-256 of the new cookie).
LoginAttempt = Callable[[str, str, str, str | None], None]


def _ignore_attempt(user: str, outcome: str, client: str, login_digest: str | None) -> None:
    pass


class AuthError(Exception):
    def __init__(self, status: int, code: str, **params: object) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.params = params


def _respond(status: int, document: Any = None) -> bytes:
    cherrypy.response.status = status
    cherrypy.response.headers["Cache-Control"] = "no-store"
    if document is None:
        return b""
    cherrypy.response.headers["Content-Type"] = "application/json; charset=utf-8"
    return json.dumps(document, ensure_ascii=False).encode()


def _error(error: AuthError) -> bytes:
    request = cherrypy.request
    language = languages.request_language(
        request.headers.get("Accept-Language"), request.params.get("lang")
    )
    reason = i18n.translate(error.code, error.params, language)
    return _respond(error.status, {"code": error.code, "reason": reason})


def _login_body() -> tuple[str, str]:
    request = cherrypy.request
    try:
        length = framing.content_length(request.headers.get("Content-Length", "").encode())
    except (framing.FramingError, UnicodeEncodeError):
        length = -1
    if not 0 < length <= MAX_LOGIN_BODY:
        raise AuthError(400, i18n.LOGIN_BODY_EXPECTED)
    try:
        body = json.loads(request.body.fp.read(length))
        username, password = body["username"], body["password"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise AuthError(400, i18n.LOGIN_BODY_EXPECTED) from None
    if not isinstance(username, str) or not isinstance(password, str):
        raise AuthError(400, i18n.LOGIN_BODY_EXPECTED)
    return username, password


def _same_origin() -> bool:
    """A login form posted from another site (login CSRF) is refused; tools send no Origin."""
    headers = cherrypy.request.headers
    return origin_allowed(headers.get("Origin"), headers.get("Host"))


def _secure_request() -> bool:
    request = cherrypy.request
    return request.scheme == "https" or (
        request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )


def _set_cookie(value: str, max_age: int | None) -> None:
    attributes = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        attributes.append(f"Max-Age={max_age}")
    if _secure_request():
        attributes.append("Secure")
    cherrypy.response.headers["Set-Cookie"] = "; ".join(attributes)


class AuthApi:
    """cherrypy root of ``/auth``."""

    def __init__(
        self,
        authenticator: Authenticator | None,
        sessions: LoginSessions | None,
        login_attempt: LoginAttempt = _ignore_attempt,
    ):
        self.authenticator = authenticator  # None: --auth none
        self.sessions = sessions
        self.login_attempt = login_attempt

    @cherrypy.expose
    def default(self, *segments: str, **_params: str) -> bytes:
        method = cherrypy.request.method
        route = (method, segments)
        try:
            if route == ("GET", ("session",)):
                return self.session()
            if self.authenticator is None:
                raise AuthError(404, i18n.RESOURCE_NOT_FOUND)
            if route == ("POST", ("login",)):
                return self.login()
            if route == ("POST", ("logout",)):
                return self.logout()
            raise AuthError(404, i18n.RESOURCE_NOT_FOUND)
        except AuthError as error:
            return _error(error)

    def session(self) -> bytes:
        if self.authenticator is None:
            return _respond(200, {"user": "operator", "csrf_token": "", "auth": "none"})
        session_id = session_cookie(cherrypy.request.headers)
        session = self.authenticator.find_session(session_id) if session_id else None
        if session is None:
            raise AuthError(401, i18n.AUTHENTICATION_REQUIRED)
        return _respond(
            200, {"user": session.user, "csrf_token": session.csrf_token, "auth": "users"}
        )

    def login(self) -> bytes:
        if not _same_origin():
            raise AuthError(403, i18n.CSRF_TOKEN_REQUIRED)
        username, password = _login_body()
        client = cherrypy.request.remote.ip
        try:
            accepted = self.authenticator.check_password(client, username, password)
        except Throttled as throttled:
            self.login_attempt(username, LOGIN_THROTTLED, client, None)
            seconds = max(1, math.ceil(throttled.seconds))
            cherrypy.response.headers["Retry-After"] = str(seconds)
            raise AuthError(429, i18n.TOO_MANY_FAILED_LOGINS, seconds=seconds) from None
        if not accepted:
            self.login_attempt(username, LOGIN_FAILED, client, None)
            raise AuthError(401, i18n.WRONG_CREDENTIALS)
        session_id, session = self.sessions.create(username)
        _set_cookie(session_id, None)
        log.info("operator %s logged in from %s", username, client)
        self.login_attempt(username, LOGIN_OK, client, session_digest(session_id))
        return _respond(200, {"user": username, "csrf_token": session.csrf_token})

    def logout(self) -> bytes:
        headers = cherrypy.request.headers
        session_id = session_cookie(headers)
        session = self.authenticator.find_session(session_id) if session_id else None
        if session is None:
            raise AuthError(401, i18n.AUTHENTICATION_REQUIRED)
        if not hmac.compare_digest(headers.get(CSRF_HEADER, ""), session.csrf_token):
            raise AuthError(403, i18n.CSRF_TOKEN_REQUIRED)
        self.authenticator.log_out(session_id, session.user)
        _set_cookie("", 0)
        log.info("operator %s logged out", session.user)
        return _respond(204)
