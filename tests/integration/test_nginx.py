"""The console round trip through contrib/nginx/serialconsole.conf: one HTTPS origin.

A real nginx (Debian's) with a certificate made here proxies to a real
``serialconsole-host --mock``, configured as the sample says for this setup
(``websocket_url = wss://{host}/websockify``).
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import requests
import websocket

from plugin_serialconsole.host.passwords import hash_password
from plugin_serialconsole.host.throttle import FREE_TRIES_PER_ADDRESS

from .helpers import (
    HTTP_TIMEOUT,
    WS_TIMEOUT,
    Console,
    expect_refused,
)
from .nginx import Nginx, client_at, proxy_for

API = "/plugins/serialconsole/"
PASSWORD = "s3cret-operator-pw"
COOKIE = "serialconsole_session"
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
)


def https(nginx: Nginx, method: str, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", HTTP_TIMEOUT)
    return requests.request(method, nginx.origin + path, verify=str(nginx.cert), **kwargs)


def test_console_round_trip_through_nginx(nginx_host, nginx, connect):
    guests = https(nginx, "GET", API + "vms")
    assert guests.status_code == 200, guests.text
    assert "mock-vm" in [guest["name"] for guest in guests.json()]

    opened = https(nginx, "POST", API + "vms/mock-vm/serial")
    assert opened.status_code == 201, opened.text
    answer = opened.json()
    # the WebSocket is on the page's own origin, under /websockify
    assert (
        answer["ws_url"] == f"wss://127.0.0.1:{nginx.tls_port}/websockify?token={answer['token']}"
    )
    assert unquote(answer["page"].split("#ws=", 1)[1]) == answer["ws_url"]

    console = connect(answer["ws_url"], origin=nginx.origin, sslopt={"ca_certs": str(nginx.cert)})
    console.banner()
    console.send("echo through nginx\r")
    assert b"through nginx\r\n" in console.read_until(b"# ")
    nginx_host.wait_session_state("connected")

    closed = https(nginx, "DELETE", API + "vms/mock-vm/serial")
    assert closed.status_code == 204
    assert console.read_until_close().endswith(b"(SCONS0106L)\r\n")


def test_a_foreign_origin_is_refused_through_nginx(nginx_host, nginx):
    answer = https(nginx, "POST", API + "vms/mock-vm/serial").json()
    refused = expect_refused(
        answer["ws_url"],
        403,
        origin="https://evil.example",
        header=["Accept-Language: fr"],
        sslopt={"ca_certs": str(nginx.cert)},
    )
    # nginx hands the proxy's answer on as it is: the code, the reason in French
    assert refused["code"] == "SCONS0025E"
    assert refused["reason"].startswith("Les pages de cette origine")
    # the token was not spent by the refused handshake: the right origin still gets in
    ws = websocket.create_connection(
        answer["ws_url"],
        timeout=WS_TIMEOUT,
        origin=nginx.origin,
        sslopt={"ca_certs": str(nginx.cert)},
    )
    ws.close()


def test_plain_http_redirects_to_https(nginx_host, nginx):
    response = requests.get(
        f"http://127.0.0.1:{nginx.plain_port}{API}vms?x=1",
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://127.0.0.1{API}vms?x=1"


@pytest.mark.parametrize(("path", "status"), [(API + "vms", 200), (API + "nowhere", 404)])
def test_security_headers_on_every_answer(nginx_host, nginx, path, status):
    response = https(nginx, "GET", path)
    assert response.status_code == status
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    assert not missing
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "nginx/" not in response.headers.get("Server", "")


def test_console_page_may_connect_only_to_websockify_on_its_origin(host, nginx):
    """Both policies, nginx's and the host's, allow this origin's /websockify and no other
    WebSocket (issue 13, item 5)."""
    response = https(nginx, "GET", API + "console.html")
    assert response.status_code == 200
    policies = response.raw.headers.getlist("Content-Security-Policy")
    assert len(policies) == 2
    for policy in policies:
        directives = [directive.split() for directive in policy.split(";")]
        (connect,) = [rest for name, *rest in directives if name == "connect-src"]
        assert connect == ["'self'", f"wss://127.0.0.1:{nginx.tls_port}/websockify"]


def test_login_and_console_through_nginx(start_host, tmp_path):
    """The deployment as documented: operators log in; the session cookie is Secure (nginx
    says the client used HTTPS) and reaches the WebSocket proxy, which wants it."""
    users = tmp_path / "users"
    users.write_text(f"alice:{hash_password(PASSWORD)}\n")
    users.chmod(0o600)
    host = start_host(
        "--auth", "users", "--users-file", str(users), "--websocket-url", "wss://{host}/websockify"
    )  # fmt: skip
    server = proxy_for(host)
    try:
        browser = requests.Session()
        browser.trust_env = False  # else $REQUESTS_CA_BUNDLE would beat ``verify``
        browser.verify = str(server.cert)
        login = browser.post(
            server.origin + "/auth/login",
            json={"username": "alice", "password": PASSWORD},
            timeout=HTTP_TIMEOUT,
        )
        assert login.status_code == 200, login.text
        assert "Secure" in login.headers["Set-Cookie"]
        browser.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        tls = {"origin": server.origin, "sslopt": {"ca_certs": str(server.cert)}}
        # a token is bound to the login session: without its cookie, refused (and spent)
        other = browser.post(server.origin + API + "vms/mock-dual/serial", timeout=HTTP_TIMEOUT)
        assert other.status_code == 201, other.text
        expect_refused(other.json()["ws_url"], 403, **tls)
        opened = browser.post(server.origin + API + "vms/mock-vm/serial", timeout=HTTP_TIMEOUT)
        assert opened.status_code == 201, opened.text
        ws_url = opened.json()["ws_url"]
        cookie = f"{COOKIE}={browser.cookies[COOKIE]}"
        console = Console(
            websocket.create_connection(ws_url, timeout=WS_TIMEOUT, cookie=cookie, **tls)
        )
        try:
            console.banner()
        finally:
            console.close()
        for guest in ("mock-vm", "mock-dual"):
            closed = browser.delete(f"{server.origin}{API}vms/{guest}/serial", timeout=HTTP_TIMEOUT)
            assert closed.status_code in (204, 404)
    finally:
        server.stop()


def test_one_clients_failed_logins_do_not_lock_out_another_behind_nginx(start_host, tmp_path):
    """Behind nginx every request reaches the host from 127.0.0.1; with nginx a trusted
    proxy, throttling and the log go by the client nginx names, and a client cannot
    choose that address with an X-Forwarded-For of its own."""
    users = tmp_path / "users"
    users.write_text(f"alice:{hash_password(PASSWORD)}\n")
    users.chmod(0o600)
    host = start_host(
        "--auth", "users", "--users-file", str(users),
        "--trusted-proxy", "127.0.0.1", "--trusted-proxy", "::1",
    )  # fmt: skip
    server = proxy_for(host)
    try:
        attacker, operator = client_at("127.0.0.2", server), client_at("127.0.0.3", server)
        login = server.origin + "/auth/login"
        for n in range(FREE_TRIES_PER_ADDRESS):
            guess = attacker.post(
                login,
                json={"username": f"guess{n}", "password": "wrong"},
                headers={"X-Forwarded-For": f"192.0.2.{n}"},  # a new "address" each try
                timeout=HTTP_TIMEOUT,
            )
            assert guess.status_code == 401, guess.text
        throttled = attacker.post(
            login, json={"username": "alice", "password": PASSWORD}, timeout=HTTP_TIMEOUT
        )
        assert throttled.status_code == 429, throttled.text
        welcome = operator.post(
            login, json={"username": "alice", "password": PASSWORD}, timeout=HTTP_TIMEOUT
        )
        assert welcome.status_code == 200, welcome.text
        api_client = client_at("127.0.0.4", server)  # HTTP Basic on the plugin's API
        basic = api_client.get(
            server.origin + API + "vms", auth=("basic-guess", "wrong"), timeout=HTTP_TIMEOUT
        )
        assert basic.status_code == 401, basic.text
        log = host.log_path.read_text()
        assert "failed password for 'basic-guess' from 127.0.0.4" in log
        assert "failed password for 'guess0' from 127.0.0.2" in log
        assert "operator alice logged in from 127.0.0.3" in log
        assert "192.0.2." not in log
    finally:
        server.stop()
