"""Operators: a users file, a browser's login session, a console with its cookie."""

from __future__ import annotations

from pathlib import Path

import requests
import websocket

from .consoles import WS_TIMEOUT, Console
from .host import HTTP_TIMEOUT, Host

SESSION_COOKIE = "serialconsole_session"
OPERATOR_PASSWORD = "s3cret-operator-pw"


def write_users_file(path: Path, *names: str, groups: dict[str, str] | None = None) -> Path:
    """A users file (mode 0600) of operators ``names``, each with ``OPERATOR_PASSWORD`` and
    the comma-separated groups ``groups`` gives them."""
    from plugin_serialconsole.host.passwords import hash_password

    def line(name: str) -> str:
        listed = (groups or {}).get(name)
        return f"{name}:{hash_password(OPERATOR_PASSWORD)}{':' + listed if listed else ''}\n"

    path.write_text("".join(line(name) for name in names))
    path.chmod(0o600)
    return path


def write_rights_file(path: Path, *rules: str) -> Path:
    """A rights file (mode 0600, as the host requires) of ``rules``, one a line."""
    path.write_text("".join(f"{rule}\n" for rule in rules))
    path.chmod(0o600)
    return path


def auth_url(host: Host, path: str) -> str:
    return host.url.split("/plugins/")[0] + "/auth/" + path


def login(
    host: Host, name: str = "alice", password: str = OPERATOR_PASSWORD, **headers: str
) -> requests.Session:
    """A browser's login session: its cookie, and its CSRF token sent with every request."""
    browser = requests.Session()
    response = browser.post(
        auth_url(host, "login"),
        json={"username": name, "password": password},
        headers=headers,
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    browser.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return browser


def connect(ws_url: str, cookie: str | None = None) -> Console:
    """A console over the WebSocket, with the login session's cookie value if given."""
    options = {"cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    return Console(websocket.create_connection(ws_url, timeout=WS_TIMEOUT, **options))
