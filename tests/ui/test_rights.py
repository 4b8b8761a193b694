"""Rights in the pages (issue 17): a viewer-only operator's console page watches only, and
the guest list offers only the actions the operator has the rights for."""

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

from .browser import console_url, js, status_text, wait_js, wait_state, wait_terminal_line

RULES = "alice mock-* view\nbob * all\n"


@pytest.fixture(scope="module")
def rights_host(tmp_path_factory) -> Iterator[Host]:
    directory = tmp_path_factory.mktemp("ui-rights")
    write_users_file(directory / "users", "alice", "bob")
    (directory / "rights").write_text(RULES)
    options = ("--users-file", str(directory / "users"), "--rights-file", str(directory / "rights"))
    for host in shared_host("--auth", "users", *options):
        host.auth = ("bob", OPERATOR_PASSWORD)
        yield host


@pytest.fixture
def host(rights_host: Host) -> Iterator[Host]:
    yield from idle_between_tests(rights_host)


def logged_in(open_context, host: Host, name: str):
    """A browser context whose cookie is ``name``'s login session."""
    context = open_context()
    answer = context.request.post(
        auth_url(host, "login"), data={"username": name, "password": OPERATOR_PASSWORD}
    )
    assert answer.ok, answer.text()
    return context


def test_a_viewer_only_operators_console_page_opens_view_only(host, open_context):
    writer = logged_in(open_context, host, "bob").new_page()
    writer.goto(console_url(host))
    wait_state(writer, "connected")
    page = logged_in(open_context, host, "alice").new_page()
    page.goto(console_url(host))  # asked to write: alice may only watch
    page.wait_for_url(re.compile(r"[?&]mode=view(&|$)"))  # the page reopens itself view only
    wait_state(page, "connected")
    assert page.is_visible("#view-only")
    assert status_text(page) == "Watching (view only)"
    assert js(page, "window.serialconsole.term.options.disableStdin") is True
    writer.keyboard.type("echo for-the-viewer\r")
    wait_terminal_line(page, "for-the-viewer")


def test_the_guest_list_offers_only_what_the_operator_may_do(host, open_context):
    page = logged_in(open_context, host, "alice").new_page()
    page.goto(host.url)
    wait_js(page, "!document.getElementById('guests').hidden", what="the guest table")
    row = page.locator("tr[data-guest='mock-vm']")
    assert row.get_by_role("link", name="Watch console serial0 of mock-vm (view only)").count()
    assert row.get_by_role("link", name="Open console serial0 of mock-vm").count() == 0
    bob = logged_in(open_context, host, "bob").new_page()
    bob.goto(host.url)
    wait_js(bob, "!document.getElementById('guests').hidden", what="the guest table")
    assert bob.get_by_role("link", name="Open console serial0 of mock-vm").count() == 1
