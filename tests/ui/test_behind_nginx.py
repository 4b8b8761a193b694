"""The console page in Chromium behind contrib/nginx/serialconsole.conf: one HTTPS origin,
nginx's Content-Security-Policy, the WebSocket on wss://<host>/websockify."""

from __future__ import annotations

from .browser import wait_prompt_count, wait_state, wait_terminal_line


def test_console_page_works_through_nginx_under_its_csp(nginx_host, nginx, open_context):
    # the certificate is self-signed; open_context fails the test on any CSP report
    page = open_context(ignore_https_errors=True).new_page()
    page.goto(f"{nginx.origin}/plugins/serialconsole/console.html?guest=mock-vm&device=serial0")
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    page.keyboard.type("echo behind-nginx\r")
    wait_terminal_line(page, "behind-nginx")
    nginx_host.wait_session_state("connected")
    page.close()


def test_page_of_a_post_answer_through_nginx_uses_its_ws_url(nginx_host, nginx, open_context):
    """The answer's `#ws=` is this host's /websockify on the page's origin: accepted."""
    page = open_context(ignore_https_errors=True).new_page()
    opened = page.request.post(f"{nginx.origin}/plugins/serialconsole/vms/mock-vm/serial")
    assert opened.status == 201, opened.text()
    answer = opened.json()
    assert answer["ws_url"].startswith(f"wss://127.0.0.1:{nginx.tls_port}/websockify?token=")
    page.goto(nginx.origin + answer["page"])
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    assert len(nginx_host.sessions()) == 1  # the answer's token, no second POST
    page.close()


def test_guest_list_works_through_nginx(nginx_host, nginx, open_context):
    page = open_context(ignore_https_errors=True).new_page()
    page.goto(f"{nginx.origin}/plugins/serialconsole/")
    page.wait_for_selector("text=mock-dual")
    page.close()
