"""A Wok logout ends that login's consoles, as the standalone host's logout does.

Wok logs out with ``POST /logout`` on its own root (``src/wok/root.py`` ``WokRoot.logout``
→ ``auth.logout``: the session's ``username`` becomes None) and tells no plugin. A
cherrypy tool, on for every app but acting only on that request, notes whose login it
was before Wok's handler runs and, once Wok answered 200, passes it to the plugin's
``wok_login_ended`` hook: that login's unused tokens are revoked and its clients sent away.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import cherrypy

from plugin_serialconsole.netloc import cookie_value
from plugin_serialconsole.wok.identity import SESSION_COOKIE

log = logging.getLogger(__name__)

TOOL = "serialconsole_wok_logout"
WOK_ROOT = ""  # Wok's own app's script name (server_root unset)
LOGOUT_PATH = "/logout"

LoginEnded = Callable[[str, str], None]  # (user, SHA-256 of the session cookie's value)


class LogoutWatch:
    """The tool's callback and its switch on cherrypy's global config."""

    def __init__(self, login_ended: LoginEnded) -> None:
        self.login_ended = login_ended

    def install(self) -> None:
        setattr(cherrypy.tools, TOOL, cherrypy.Tool("before_handler", self.before_logout))
        cherrypy.config.update({f"tools.{TOOL}.on": True})

    def remove(self) -> None:
        cherrypy.config.update({f"tools.{TOOL}.on": False})

    def before_logout(self) -> None:
        request = cherrypy.serving.request
        if (
            request.method != "POST"
            or request.path_info != LOGOUT_PATH
            or request.app is None
            or request.app.script_name != WOK_ROOT
        ):
            return
        cookie = cookie_value(request.headers.get("Cookie", ""), SESSION_COOKIE)
        session = getattr(cherrypy.serving, "session", None)
        if cookie is None or session is None:
            return
        session.acquire_lock()  # Wok's sessions lock explicitly
        try:
            user = session.get("username")
        finally:
            session.release_lock()
        if not user:
            return
        digest = hashlib.sha256(cookie.encode()).hexdigest()
        request.hooks.attach("on_end_request", lambda: self._after_logout(user, digest))

    def _after_logout(self, user: str, digest: str) -> None:
        if not str(cherrypy.serving.response.status).startswith("200"):
            return
        try:
            self.login_ended(user, digest)
        except Exception:  # Wok answered already; the consoles' end is logged, not raised
            log.exception("ending the consoles of %s's Wok login failed", user)
