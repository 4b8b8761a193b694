"""With operators (``--auth users``) the pages ask for a login, then work as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plugin_serialconsole.host.passwords import hash_password
from tests.integration.helpers import Host

from .browser import wait_js, wait_state, wait_terminal_line

PASSWORD = "browser-operator-pw"


@pytest.fixture(scope="module")
def auth_host(tmp_path_factory) -> Iterator[Host]:
    users = tmp_path_factory.mktemp("ui-auth") / "users"
    users.write_text(f"alice:{hash_password(PASSWORD)}\n")
    users.chmod(0o600)
    host = Host("--auth", "users", "--users-file", str(users))
    try:
        yield host.start()
    finally:
        host.finish()


def test_log_in_then_open_a_console(auth_host, open_context):
    context = open_context()
    page = context.new_page()
    page.goto(auth_host.url)
    wait_js(page, "!document.getElementById('login').hidden", what="the login form")
    assert page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    wait_js(page, "document.querySelector('.login-error').textContent !== ''")
    assert page.inner_text(".login-error") == "Wrong user name or password."
    page.fill("[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    wait_js(page, "!document.getElementById('guests').hidden", what="the guest table")
    assert page.locator("#login").is_hidden()
    with context.expect_page() as opened:
        page.get_by_role("link", name="Open console serial0 of mock-vm").click()
    console = opened.value
    # The new tab shares the login: its POST carries the CSRF token, its WebSocket the cookie.
    wait_state(console, "connected")
    console.keyboard.type("echo logged-in\r")
    wait_terminal_line(console, "logged-in")
    context.close()
