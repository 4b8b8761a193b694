"""The console page in Chromium behind contrib/nginx/serialconsole.conf: one HTTPS origin,
nginx's Content-Security-Policy, the WebSocket on wss://<host>/websockify."""

from __future__ import annotations

from tests.integration.helpers import Host
from tests.integration.nginx import running_proxy

from .browser import (
    wait_js,
    wait_prompt_count,
    wait_recorded,
    wait_state,
    wait_terminal_line,
)


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


def test_a_recording_plays_through_nginx_under_its_csp(tmp_path, open_context):
    """Issue 18: the asciinema player compiles its terminal as WebAssembly, which both
    policies, nginx's and the host's, must allow (and nothing more)."""
    config = tmp_path / "serialconsole.conf"
    config.write_text(
        "[server]\ntrusted_proxies = 127.0.0.1 ::1\n\n"
        "[serialconsole]\nwebsocket_url = wss://{host}/websockify\n"
    )
    host = Host("--config", str(config), "--capture", "all", "--state-dir", str(tmp_path / "s"))
    host.start()
    try:
        for nginx in running_proxy(host):
            page = open_context(ignore_https_errors=True).new_page()
            page.goto(f"{nginx.origin}/plugins/serialconsole/console.html?guest=mock-vm")
            wait_state(page, "connected")
            page.keyboard.type("echo through-nginx\r")
            wait_terminal_line(page, "through-nginx")
            wait_recorded(host, "mock-vm", "through-nginx")
            page.get_by_role("button", name="Recordings").click()
            page.locator("#recordings-list tr").first.get_by_role("button", name="Play").click()
            wait_js(
                page,
                "document.getElementById('recording-player').innerText.includes('through-nginx')",
                what="the recorded line in the player",
            )
            page.close()
    finally:
        host.finish()
