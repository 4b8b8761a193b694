"""Operators log in; nobody else gets a console, and a token works only for its session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
import websocket

from .helpers import (
    HTTP_TIMEOUT,
    OPERATOR_PASSWORD,
    PROMPT,
    SESSION_COOKIE,
    auth_url,
    connect,
    login,
    shared_host,
    wait_equal,
    wait_for,
    write_users_file,
)

PASSWORD = OPERATOR_PASSWORD
COOKIE = SESSION_COOKIE


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> Path:
    return write_users_file(tmp_path_factory.mktemp("auth") / "users", "alice", "bob")


@pytest.fixture(scope="module")
def auth_host(users_file):
    yield from shared_host("--auth", "users", "--users-file", str(users_file))


@pytest.fixture
def host(auth_host):
    """The module's host; each test's console sessions are ended after it."""
    yield auth_host
    for name in ("mock-vm", "mock-dual"):
        response = requests.delete(
            auth_host.api(f"vms/{name}/serial"), auth=("alice", PASSWORD), timeout=HTTP_TIMEOUT
        )
        assert response.status_code in (204, 404), response.text


def test_nothing_without_login(host):
    for method, path in [
        ("GET", "vms"),
        ("GET", "sessions"),
        ("POST", "vms/mock-vm/serial"),
        ("GET", "vms/mock-vm/serial"),
        ("GET", "vms/mock-vm/serial/transcript"),
    ]:
        response = requests.request(method, host.api(path), timeout=HTTP_TIMEOUT)
        assert response.status_code == 401
        assert response.json()["code"] == "SCONS0016E"
    assert requests.get(auth_url(host, "session"), timeout=HTTP_TIMEOUT).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "alice", "password": "wrong"}, 401, "SCONS0020E"),
        ({"username": "mallory", "password": PASSWORD}, 401, "SCONS0020E"),
        ({"username": "alice"}, 400, "SCONS0021E"),
        (["alice", PASSWORD], 400, "SCONS0021E"),
    ],
)
def test_bad_logins_are_refused(host, body, status, code):
    response = requests.post(auth_url(host, "login"), json=body, timeout=HTTP_TIMEOUT)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "body", [b"[" * 2000, b"[" * 1000 + b"]" * 1000, b'{"username": ' + b"[" * 1500 + b"}"]
)
def test_deeply_nested_login_body_is_a_json_400(host, body):
    """Issue 13: a 500 with cherrypy's HTML page and a traceback in the log."""
    response = requests.post(
        auth_url(host, "login"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "SCONS0021E"
    assert "Traceback" not in host.log()


def test_login_from_another_site_is_refused(host):
    response = requests.post(
        auth_url(host, "login"),
        json={"username": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        timeout=HTTP_TIMEOUT,
    )
    assert (response.status_code, response.json()["code"]) == (403, "SCONS0019E")


def test_session_cookie_attributes(host):
    response = requests.post(
        auth_url(host, "login"), json={"username": "alice", "password": PASSWORD}, timeout=10
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    behind_tls = requests.post(
        auth_url(host, "login"),
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
        timeout=HTTP_TIMEOUT,
    )
    assert "Secure" in behind_tls.headers["Set-Cookie"]


def test_logged_in_operator_opens_a_console_with_csrf_token(host):
    browser = login(host)
    assert browser.get(host.api("vms"), timeout=HTTP_TIMEOUT).status_code == 200
    whoami = browser.get(auth_url(host, "session"), timeout=HTTP_TIMEOUT).json()
    assert whoami["user"] == "alice" and whoami["auth"] == "users"
    forged = browser.post(
        host.api("vms/mock-vm/serial"), headers={"X-CSRF-Token": "forged"}, timeout=HTTP_TIMEOUT
    )
    assert (forged.status_code, forged.json()["code"]) == (403, "SCONS0019E")
    opened = browser.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT)
    assert opened.status_code == 201, opened.text
    console = connect(opened.json()["ws_url"], browser.cookies[COOKIE])
    console.banner()
    console.send("echo in\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(b"in\r\n# ")
    sessions = browser.get(host.api("sessions"), timeout=HTTP_TIMEOUT).json()
    assert [s["user"] for s in sessions] == ["alice"]
    console.close()


@pytest.mark.parametrize("cookie", [None, "someone-elses-session"])
def test_token_is_refused_without_its_login_session(host, cookie):
    browser = login(host)
    opened = browser.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT).json()
    other = login(host, "bob").cookies[COOKIE] if cookie else None
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(opened["ws_url"], other)
    assert refused.value.status_code == 403
    # the token is spent: even its own session cannot use it now
    with pytest.raises(websocket.WebSocketBadStatusException):
        connect(opened["ws_url"], browser.cookies[COOKIE])


def test_logout_needs_csrf_and_ends_the_session(host):
    browser = login(host)
    session_id = browser.cookies[COOKIE]
    csrf = browser.headers.pop("X-CSRF-Token")
    assert browser.post(auth_url(host, "logout"), timeout=HTTP_TIMEOUT).status_code == 403
    response = browser.post(
        auth_url(host, "logout"), headers={"X-CSRF-Token": csrf}, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 204
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert browser.get(host.api("vms"), timeout=HTTP_TIMEOUT).status_code == 401
    replayed = requests.get(host.api("vms"), cookies={COOKIE: session_id}, timeout=HTTP_TIMEOUT)
    assert replayed.status_code == 401


def test_viewer_and_reattach_tokens_need_their_own_login_session(host):
    alice, bob = login(host), login(host, "bob")
    opened = alice.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT).json()
    writer = connect(opened["ws_url"], alice.cookies[COOKIE])
    writer.banner()
    writer.send("echo secret\r")
    writer.read_until(b"secret\r\n" + PROMPT)
    viewing = bob.post(host.api("vms/mock-vm/serial"), json={"mode": "view"}, timeout=HTTP_TIMEOUT)
    assert viewing.status_code == 201, viewing.text
    with pytest.raises(websocket.WebSocketBadStatusException):
        connect(viewing.json()["ws_url"], alice.cookies[COOKIE])  # not alice's token
    viewing = bob.post(host.api("vms/mock-vm/serial"), json={"mode": "view"}, timeout=HTTP_TIMEOUT)
    viewer = connect(viewing.json()["ws_url"], bob.cookies[COOKIE])
    assert b"echo secret" in viewer.read_until(b"secret\r\n" + PROMPT)

    # The spent token's place stays reserved until its TTL, as a first token's does; the
    # host learns that the other viewer connected a moment after it did.
    def viewers() -> list[tuple[str, str]]:
        (session,) = bob.get(host.api("sessions"), timeout=HTTP_TIMEOUT).json()
        assert session["user"] == "alice"
        return sorted((v["user"], v["state"]) for v in session["viewers"])

    wait_equal(viewers, [("bob", "connected"), ("bob", "waiting")], 5.0, "bob's viewer places")
    # the transcript is a GET: the cookie is enough, no CSRF token
    transcript = requests.get(
        host.api("vms/mock-vm/serial/transcript"), cookies=bob.cookies, timeout=HTTP_TIMEOUT
    )
    assert transcript.status_code == 200 and b"echo secret" in transcript.content

    writer.drop()
    wait_for(
        lambda: (
            bob.get(host.api("sessions"), timeout=HTTP_TIMEOUT).json()[0]["state"] == "detached"
        ),
        5.0,
        "alice's console to be detached",
    )
    reattach = bob.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT).json()
    assert reattach["reattached"] is True
    again = connect(reattach["ws_url"], bob.cookies[COOKIE])
    assert b"echo secret" in again.read_until(b"secret\r\n" + PROMPT)
    sessions = bob.get(host.api("sessions"), timeout=HTTP_TIMEOUT).json()
    assert sessions[0]["user"] == "bob"
    for console in (viewer, again):
        console.close()


def test_http_basic_for_api_clients(host):
    opened = requests.post(
        host.api("vms/mock-dual/serial"), auth=("bob", PASSWORD), timeout=HTTP_TIMEOUT
    )
    assert opened.status_code == 201, opened.text
    console = connect(opened.json()["ws_url"])  # no login session: the token is not bound
    console.banner()
    console.close()
    wrong = requests.get(host.api("vms"), auth=("bob", "nope"), timeout=HTTP_TIMEOUT)
    assert wrong.status_code == 401


def run_cli(*options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "plugin_serialconsole.host.cli", "--mock", *options],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_auth_none_refuses_a_non_loopback_address(tmp_path):
    done = run_cli("--auth", "none", "--host", "0.0.0.0", "--run-dir", str(tmp_path))
    assert done.returncode == 2
    assert "loopback" in done.stderr


def test_missing_users_file_is_a_clear_error(tmp_path):
    done = run_cli("--users-file", str(tmp_path / "none"), "--run-dir", str(tmp_path))
    assert done.returncode == 2
    assert "serialconsole-passwd" in done.stderr


def test_login_errors_speak_the_browsers_language(host):
    response = requests.post(
        auth_url(host, "login"),
        json={"username": "alice", "password": "wrong"},
        headers={"Accept-Language": "de"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.json()["code"] == "SCONS0020E"
    assert response.json()["reason"] != "Wrong user name or password."


def test_password_guessing_is_slowed_down(host):
    def attempt(password: str) -> requests.Response:
        return requests.post(
            auth_url(host, "login"),
            json={"username": "carol", "password": password},
            timeout=HTTP_TIMEOUT,
        )

    assert [attempt(f"guess{n}").status_code for n in range(5)] == [401] * 5
    slowed = attempt("guess5")
    assert (slowed.status_code, slowed.json()["code"]) == (429, "SCONS0022E")
    assert int(slowed.headers["Retry-After"]) >= 1
    assert slowed.headers["Retry-After"] in slowed.json()["reason"]
    login(host, "alice")  # other names are not slowed
