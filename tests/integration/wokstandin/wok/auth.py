"""Stand-in for ``src/wok/auth.py``: the login kept in the cherrypy session.

- ``login()``: after the password check, ``cherrypy.session.regenerate()`` and the keys
  ``username``, ``groups``, ``role`` (``admin`` for sudoers, else ``user``).
- ``check_auth_session()``: True when the session holds a ``username``.
- ``check_auth_httpba()``: HTTP Basic, refused for browsers (``X-Requested-With:
  XMLHttpRequest``) and for requests whose Accept does not list ``application/json``
  (``template.can_accept``); logs in, which makes a session, and returns ``login()``'s dict.
- ``logout()``: the session's ``username`` becomes None.

The operators (PAM and ``sudo -l`` in Wok) come from ``$WOKSTANDIN_USERS``, a JSON object
``{name: {"password", "role", "groups"}}``.
"""

import base64
import json
import os

import cherrypy

USER_NAME = "username"
USER_ROLE = "role"
USER_GROUPS = "groups"


def _users() -> dict:
    return json.loads(os.environ.get("WOKSTANDIN_USERS", "{}"))


def from_browser() -> bool:
    return cherrypy.request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _accepts_json() -> bool:
    accepts = cherrypy.request.headers.get("Accept", "text/html").split(";", 1)[0]
    return "application/json" in (value.strip() for value in accepts.split(","))


def check_auth_session() -> bool:
    cherrypy.session.acquire_lock()
    user = cherrypy.session.get(USER_NAME, None)
    cherrypy.session.release_lock()
    return user is not None


def check_auth_httpba():
    if from_browser() or not _accepts_json():
        return False
    header = cherrypy.request.headers.get("AUTHORIZATION")
    if not header:
        return False
    decoded = base64.b64decode(header.replace("Basic ", "").encode("ascii")).decode()
    username, password = decoded.split(":", 1)
    return login(username, password)


def login(username: str, password: str):
    user = _users().get(username)
    if user is None or user["password"] != password:
        return None
    cherrypy.session.acquire_lock()
    cherrypy.session.regenerate()
    cherrypy.session[USER_NAME] = username
    cherrypy.session[USER_GROUPS] = user["groups"]
    cherrypy.session[USER_ROLE] = user["role"]
    cherrypy.session.release_lock()
    return {USER_NAME: username, USER_GROUPS: user["groups"], USER_ROLE: user["role"]}


def logout() -> None:
    cherrypy.session.acquire_lock()
    cherrypy.session[USER_NAME] = None
    cherrypy.session.release_lock()
    cherrypy.lib.sessions.close()
