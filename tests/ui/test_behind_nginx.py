"""The console page in Chromium behind contrib/nginx/serialconsole.conf: one HTTPS origin,
nginx's Content-Security-Policy, the WebSocket on wss://<host>/websockify."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from integration import nginx as nginx_harness
from integration.helpers import Host, idle_between_tests
from integration.nginx import Nginx

from .browser import wait_prompt_count, wait_state, wait_terminal_line


@pytest.fixture(scope="module")
def proxied_host() -> Iterator[Host]:
    yield from nginx_harness.proxied_host()


@pytest.fixture(scope="module")
def nginx(proxied_host: Host) -> Iterator[Nginx]:
    yield from nginx_harness.running_proxy(proxied_host)


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


def test_page_of_a_post_answer_through_nginx_uses_its_ws_url(host, nginx, open_context):
    """The answer's `#ws=` is this host's /websockify on the page's origin: accepted."""
    page = open_context(ignore_https_errors=True).new_page()
    opened = page.request.post(f"{nginx.origin}/plugins/serialconsole/vms/mock-vm/serial")
    assert opened.status == 201, opened.text()
    answer = opened.json()
    assert answer["ws_url"].startswith(f"wss://127.0.0.1:{nginx.tls_port}/websockify?token=")
    page.goto(nginx.origin + answer["page"])
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    assert len(host.sessions()) == 1  # the answer's token, no second POST
    page.close()


def test_guest_list_works_through_nginx(host, nginx, open_context):
    page = open_context(ignore_https_errors=True).new_page()
    page.goto(f"{nginx.origin}/plugins/serialconsole/")
    page.wait_for_selector("text=mock-dual")
    page.close()
