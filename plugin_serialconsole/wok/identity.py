"""Who a request comes from, from Wok's login: its ``wok`` session cookie, else HTTP Basic.

Wok (``src/wok/auth.py``) keeps ``username``, ``role`` (``admin`` or ``user``, from
``sudo -l``) and ``groups`` in the cherrypy session after ``POST /login``;
``check_auth_session`` says whether the session is logged in (and refreshes its idle
time), ``check_auth_httpba`` logs a REST client in from its Basic credentials. Wok has no
CSRF token: its UI marks its requests with ``X-Requested-With``, a header another site's
page cannot send without a CORS preflight, so a state-changing request that rides on the
cookie must carry it (or our own ``X-CSRF-Token``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.httpvalues import SAFE_METHODS
from plugin_serialconsole.netloc import cookie_value

SESSION_COOKIE = "wok"  # Wok's config.py: 'tools.sessions.name': 'wok'
ADMIN_ROLE = "admin"
CSRF_HEADERS = ("X-Requested-With", "X-CSRF-Token")


def identity_of(
    user: str,
    role: str | None,
    groups: Iterable[str] | None,
    method: str,
    headers: Mapping[str, str],
    via_cookie: bool,
) -> Identity:
    """The Identity of a Wok operator: an admin has every right, a user what the config
    grants to them or their groups; a cookie login is bound to its session."""
    cookie = cookie_value(headers.get("Cookie", ""), SESSION_COOKIE) if via_cookie else None
    csrf_ok = cookie is None or method.upper() in SAFE_METHODS or csrf_header_present(headers)
    return Identity(
        user=user,
        session_cookie=SESSION_COOKIE if cookie else None,
        session_digest=hashlib.sha256(cookie.encode()).hexdigest() if cookie else None,
        csrf_ok=csrf_ok,
        groups=frozenset(groups or ()),
        all_rights=role == ADMIN_ROLE,
    )


def csrf_header_present(headers: Mapping[str, str]) -> bool:
    return any(headers.get(name, "").strip() for name in CSRF_HEADERS)


def needs_csrf_header(method: str, headers: Mapping[str, str]) -> bool:
    """A state-changing request that carries Wok's login cookie but no header a foreign
    page cannot send: refused, whether or not the cookie is a live login."""
    return (
        method.upper() not in SAFE_METHODS
        and cookie_value(headers.get("Cookie", ""), SESSION_COOKIE) is not None
        and not csrf_header_present(headers)
    )


def current_identity() -> Identity | None:
    """The operator of the current cherrypy request, as Wok's auth knows them."""
    import cherrypy
    from wok import auth

    request = cherrypy.request
    try:
        logged_in = auth.check_auth_session()
    except cherrypy.HTTPError:  # Wok's robot requests past the session's idle time
        return None
    if logged_in:
        session: Any = cherrypy.session
        session.acquire_lock()
        try:
            user = session.get(auth.USER_NAME)
            role = session.get(auth.USER_ROLE)
            groups = session.get(auth.USER_GROUPS)
        finally:
            session.release_lock()
        return identity_of(user, role, groups, request.method, request.headers, True)
    answer = auth.check_auth_httpba()
    if not answer:
        return None
    return identity_of(
        answer[auth.USER_NAME],
        answer.get(auth.USER_ROLE),
        answer.get(auth.USER_GROUPS),
        request.method,
        request.headers,
        False,
    )
