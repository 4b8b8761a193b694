"""The console page in Chromium behind contrib/nginx/serialconsole.conf: one HTTPS origin,
nginx's Content-Security-Policy, the WebSocket on wss://<host>/websockify."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.helpers import Host, idle_between_tests, shared_host
from integration.nginx import Nginx, proxy_for

from .browser import wait_prompt_count, wait_state, wait_terminal_line


@pytest.fixture(scope="module")
def proxied_host() -> Iterator[Host]:
    directory = Path(tempfile.mkdtemp(prefix="scconf", dir="/tmp"))
    config = directory / "serialconsole.conf"
    config.write_text("[serialconsole]\nwebsocket_url = wss://{host}/websockify\n")
    try:
        yield from shared_host("--config", str(config))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def nginx(proxied_host: Host) -> Iterator[Nginx]:
    server = proxy_for(proxied_host)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def host(proxied_host: Host, nginx: Nginx) -> Iterator[Host]:
    yield from idle_between_tests(proxied_host)


def test_console_page_works_through_nginx_under_its_csp(host, nginx, open_context):
    # the certificate is self-signed; open_context fails the test on any CSP report
    page = open_context(ignore_https_errors=True).new_page()
    page.goto(f"{nginx.origin}/plugins/serialconsole/console.html?guest=mock-vm&device=serial0")
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    page.keyboard.type("echo behind-nginx\r")
    wait_terminal_line(page, "behind-nginx")
    (session,) = host.sessions()
    assert session["state"] == "connected"
    page.close()


def test_guest_list_works_through_nginx(host, nginx, open_context):
    page = open_context(ignore_https_errors=True).new_page()
    page.goto(f"{nginx.origin}/plugins/serialconsole/")
    page.wait_for_selector("text=mock-dual")
    page.close()
