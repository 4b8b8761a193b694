"""The pages inside (a stand-in for) Wok: its login page when the API says 401, its
language, and a console opened on Wok's login cookie (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.helpers.wok import PASSWORD, WokStandin

from .browser import wait_state, wait_terminal_line


@pytest.fixture(scope="module")
def wok() -> Iterator[WokStandin]:
    standin = WokStandin()
    try:
        yield standin.start()
    finally:
        standin.finish()


def log_in(context, wok: WokStandin, name: str = "alice") -> None:
    """What Wok's login page does: POST /login; its cookie lands in the browser."""
    answer = context.request.post(wok.url + "login", data={"username": name, "password": PASSWORD})
    assert answer.ok, answer.text()


def test_without_a_login_the_page_goes_to_wok_login_and_asks_to_come_back(open_context, wok):
    page = open_context().new_page()
    page.goto(wok.plugin(""))
    page.wait_for_url("**/login.html?next=*")
    assert page.url == wok.url + "login.html?next=%2Fplugins%2Fserialconsole%2F"


def test_the_pages_follow_wok_language_and_open_a_console_on_its_login(open_context, wok):
    context = open_context()
    log_in(context, wok)
    context.add_cookies([{"name": "wokLang", "value": "de_DE", "url": wok.url}])
    page = context.new_page()
    page.goto(wok.plugin("console.html?guest=mock-vm&device=serial0"))
    wait_state(page, "connected")
    assert page.evaluate("document.documentElement.lang") == "de-DE"
    page.keyboard.type("echo inside-wok\r")
    wait_terminal_line(page, "inside-wok")
    page.close()
    [opened] = [e for e in wok.activity() if e["message"]["code"] == "SCONS0110L"]
    assert opened["info"]["user"] == "alice"
