"""With operators, a console page of the writer's own login — a reload, or the same
console opened in another tab — reattaches at once, never "in use"; the newer page wins
and the older one says why it lost the console."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.helpers import (
    OPERATOR_PASSWORD,
    Host,
    auth_url,
    idle_between_tests,
    shared_host,
    write_users_file,
)

from .browser import (
    console_url,
    open_console,
    status_text,
    wait_state,
    wait_terminal_line,
)

REATTACHED = re.compile(r"Reattached: \d+ bytes of recent output replayed")
REOPENED = "Disconnected: The console was opened again by your login, in another page or tab."


@pytest.fixture(scope="module")
def login_host(tmp_path_factory) -> Iterator[Host]:
    users = write_users_file(tmp_path_factory.mktemp("ui-reload") / "users", "alice")
    for host in shared_host("--auth", "users", "--users-file", str(users)):
        host.auth = ("alice", OPERATOR_PASSWORD)  # looks on and cleans up
        yield host


@pytest.fixture
def host(login_host: Host) -> Iterator[Host]:
    yield from idle_between_tests(login_host)


@pytest.fixture
def context(host: Host, open_context):
    """A browser context whose cookie is a login session of alice's."""
    context = open_context()
    answer = context.request.post(
        auth_url(host, "login"), data={"username": "alice", "password": OPERATOR_PASSWORD}
    )
    assert answer.ok, answer.text()
    return context


def test_a_second_tab_of_the_login_takes_the_console_and_the_first_says_so(host, context):
    first = open_console(context.new_page(), host)
    first.keyboard.type("echo in-the-first-tab\r")
    wait_terminal_line(first, "in-the-first-tab")

    second = context.new_page()
    second.goto(console_url(host))  # the first tab's WebSocket stays open

    wait_state(second, "connected")
    assert REATTACHED.fullmatch(status_text(second))
    wait_terminal_line(second, "in-the-first-tab")  # replayed from the ring
    wait_state(first, "disconnected")
    assert status_text(first) == REOPENED
    assert first.is_hidden("#takeover")
    second.keyboard.type("echo in-the-second-tab\r")
    wait_terminal_line(second, "in-the-second-tab")


def test_a_reload_with_a_login_reattaches(host, context):
    page = open_console(context.new_page(), host)
    page.keyboard.type("echo before-reload\r")
    wait_terminal_line(page, "before-reload")
    page.reload()
    wait_state(page, "connected")
    assert REATTACHED.fullmatch(status_text(page))
    wait_terminal_line(page, "before-reload")
    page.keyboard.type("echo after-reload\r")
    wait_terminal_line(page, "after-reload")
