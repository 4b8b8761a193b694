"""The WebSocket proxy's refusals in the audit log: each a ``denied`` event with its
message code and the real client (behind nginx too), and never the token or cookie."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import websocket

from .helpers import (
    HTTP_TIMEOUT,
    STOP_TIMEOUT,
    Host,
    children_of,
    wait_for,
    write_rights_file,
)
from .helpers.audit import audit_file, users_host, wait_event
from .helpers.consoles import WS_TIMEOUT
from .helpers.operators import OPERATOR_PASSWORD, SESSION_COOKIE, connect, login
from .nginx import proxy_for

UNKNOWN_TOKEN = "Zq3v" * 11  # looks like a token, was never issued
FORGED_CLIENT = "203.0.113.9"  # what a client says of itself: never believed


def pipes_of(pid: int) -> int:
    """How many of process ``pid``'s descriptors are pipes."""
    pipes = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed meanwhile
            pipes += os.readlink(fd).startswith("pipe:")
    return pipes


def handshake_from(address: str, url: str, ssl_context: ssl.SSLContext | None = None, **options):
    """A WebSocket handshake to ``url`` from loopback address ``address``; the HTTP status
    of its refusal."""
    parts = urlsplit(url)
    sock = socket.create_connection(
        (parts.hostname, parts.port), timeout=WS_TIMEOUT, source_address=(address, 0)
    )
    if ssl_context is not None:
        sock = ssl_context.wrap_socket(sock, server_hostname=parts.hostname)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, timeout=WS_TIMEOUT, socket=sock, **options).close()
    sock.close()
    return refused.value.status_code


def test_an_unknown_token_is_audited_with_its_code_and_client(start_host, tmp_path):
    host = users_host(start_host, tmp_path, "alice")
    url = f"{host.ws_url}?token={UNKNOWN_TOKEN}"
    status = handshake_from("127.0.0.2", url, header=[f"X-Forwarded-For: {FORGED_CLIENT}"])
    assert status == 403
    denied = wait_event(host, "denied", refused="token")
    assert (denied["client"], denied["status"], denied["code"]) == ("127.0.0.2", 403, "SCONS0072E")
    assert denied["operator"] is None and denied["guest"] is None
    assert UNKNOWN_TOKEN not in audit_file(host).read_text()


def test_a_refused_origin_is_audited_without_the_token_or_cookie(start_host, tmp_path):
    host = users_host(start_host, tmp_path, "alice")
    browser = login(host, "alice")
    opened = browser.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT)
    assert opened.status_code == 201, opened.text
    cookie = browser.cookies[SESSION_COOKIE]
    status = handshake_from(
        "127.0.0.3",
        opened.json()["ws_url"],
        origin="http://evil.example",
        cookie=f"{SESSION_COOKIE}={cookie}",
    )
    assert status == 403
    denied = wait_event(host, "denied", refused="origin")
    assert (denied["client"], denied["status"], denied["code"]) == ("127.0.0.3", 403, "SCONS0025E")
    # the token, left unspent, is used once: a second use is refused and named with its console
    token = opened.json()["token"]
    connect(opened.json()["ws_url"], cookie).close()
    assert handshake_from("127.0.0.3", opened.json()["ws_url"]) == 403
    reused = wait_event(host, "denied", refused="token", client="127.0.0.3")
    assert reused["code"] == "SCONS0072E"
    text = audit_file(host).read_text()
    for name, value in {"token": token, "cookie": cookie, "password": OPERATOR_PASSWORD}.items():
        assert value not in text, f"the {name} is in the audit file"


def test_a_refused_token_names_the_real_client_behind_nginx(start_host, tmp_path):
    host: Host = users_host(start_host, tmp_path, "alice", options=("--trusted-proxy", "127.0.0.1"))
    server = proxy_for(host)
    try:
        context = ssl.create_default_context(cafile=str(server.cert))
        url = server.origin.replace("https://", "wss://") + f"/websockify?token={UNKNOWN_TOKEN}"
        status = handshake_from(
            "127.0.0.2", url, context, header=[f"X-Forwarded-For: {FORGED_CLIENT}"]
        )
        assert status == 403
    finally:
        server.stop()
    denied = wait_event(host, "denied", refused="token")
    assert (denied["client"], denied["code"]) == ("127.0.0.2", "SCONS0072E")


def test_a_token_refused_for_its_login_or_right_names_its_operator_and_console(
    start_host, tmp_path
):
    rights = write_rights_file(tmp_path / "rights", "alice mock-* all")
    host = users_host(start_host, tmp_path, "alice", options=("--rights-file", str(rights)))
    browser = login(host, "alice")
    cookie = f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}"
    writer = browser.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT).json()
    viewer = browser.post(
        host.api("vms/mock-dual/serial"), json={"mode": "view"}, timeout=HTTP_TIMEOUT
    ).json()
    write_rights_file(tmp_path / "rights.new", "alice mock-vm all").replace(rights)

    assert handshake_from("127.0.0.2", writer["ws_url"]) == 403  # without its login's cookie
    assert handshake_from("127.0.0.2", viewer["ws_url"], cookie=cookie) == 403
    no_login = wait_event(host, "denied", refused="login")
    opened = wait_event(host, "opened", guest="mock-vm")
    assert (no_login["operator"], no_login["client"], no_login["code"]) == (
        "alice",
        "127.0.0.2",
        "SCONS0072E",
    )
    assert (no_login["guest"], no_login["device"], no_login["session"]) == (
        "mock-vm",
        "serial0",
        opened["session"],
    )
    no_right = wait_event(host, "denied", refused="right")
    assert (no_right["operator"], no_right["guest"], no_right["uuid"]) == (
        "alice",
        "mock-dual",
        wait_event(host, "opened", guest="mock-dual")["uuid"],
    )


def test_a_connection_refused_at_the_handler_cap_is_audited(start_host, connect):
    host = start_host("--max-ws-handlers", "1")
    served = connect(host.open("mock-vm")["ws_url"])
    served.banner()
    url = host.open("mock-dual", device="serial0")["ws_url"]
    assert handshake_from("127.0.0.4", url, header=[f"X-Forwarded-For: {FORGED_CLIENT}"]) == 503
    busy = wait_event(host, "denied", refused="busy")
    assert (busy["client"], busy["status"], busy["code"]) == ("127.0.0.4", 503, "SCONS0070E")


def test_a_restarted_proxy_still_reports_its_refusals(start_host):
    host = start_host()
    (proxy,) = children_of(host.proc.pid, "bridge.proxy")
    pipes = pipes_of(host.proc.pid)
    os.kill(proxy, signal.SIGKILL)
    wait_for(
        lambda: [p for p in children_of(host.proc.pid, "bridge.proxy") if p != proxy],
        STOP_TIMEOUT,
        "a new websockify process",
    )
    assert handshake_from("127.0.0.5", f"{host.ws_url}?token={UNKNOWN_TOKEN}") == 403
    assert wait_event(host, "denied", refused="token")["client"] == "127.0.0.5"
    # the killed proxy's report pipe is closed with its reader: none piles up
    wait_for(lambda: pipes_of(host.proc.pid) == pipes, STOP_TIMEOUT, "the old report pipe closed")
