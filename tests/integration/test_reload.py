"""A reloaded console page reattaches at once, however late the host hears that the old
page's client left; nobody else gains the console by it (rights unchanged).

A reload closes the old page's WebSocket and POSTs at once; that the old client left
reaches the host only later, from the console process. These tests POST again while the
old page is still connected, which is how the host sees any reload whose "left" is still
on its way: the same login reattaches, every other login finds the console in use.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from .helpers import (
    HTTP_TIMEOUT,
    OPERATOR_PASSWORD,
    PROMPT,
    SESSION_COOKIE,
    Host,
    assert_final_line,
    connect,
    expect_refused,
    idle_between_tests,
    login,
    shared_host,
    write_rights_file,
    write_users_file,
)

IN_USE = "SCONS0003E"
DENIED = "SCONS0055E"
REOPENED = "SCONS0134L"
REOPENED_TEXT = "The console was opened again by your login, in another page or tab."


@pytest.fixture(scope="module")
def reload_host(tmp_path_factory) -> Iterator[Host]:
    files = tmp_path_factory.mktemp("reload")
    users = write_users_file(files / "users", "alice", "bob", "carol")
    # alice and bob may write but not take over; carol may do everything
    rights = write_rights_file(files / "rights", "alice * console", "bob * console", "carol * all")
    options = ("--auth", "users", "--users-file", str(users), "--rights-file", str(rights))
    for host in shared_host(*options):
        host.auth = ("carol", OPERATOR_PASSWORD)  # who looks on and cleans up
        yield host


@pytest.fixture
def host(reload_host: Host) -> Iterator[Host]:
    yield from idle_between_tests(reload_host)


def post(browser: requests.Session, host: Host, **body) -> requests.Response:
    return browser.post(host.api("vms/mock-vm/serial"), json=body or None, timeout=HTTP_TIMEOUT)


def opened(browser: requests.Session, host: Host) -> dict:
    response = post(browser, host)
    assert response.status_code == 201, response.text
    return response.json()


def page(browser: requests.Session, answer: dict):
    """The console of a page of ``browser`` that got ``answer``."""
    return connect(answer["ws_url"], browser.cookies[SESSION_COOKIE])


def refused(response: requests.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


def test_a_reload_reattaches_while_the_host_still_sees_the_old_page_connected(host):
    alice = login(host)
    old = page(alice, opened(alice, host))
    seen = old.banner()
    old.send("echo one\r")
    seen += old.read_until(PROMPT)
    pid = host.wait_session_state("connected")["pid"]

    again = opened(alice, host)  # the old page's WebSocket is still open

    assert (again["reattached"], again["replay_bytes"]) == (True, len(seen))
    assert_final_line(old.read_until_close(), REOPENED, REOPENED_TEXT)
    new = page(alice, again)
    assert new.read_until(b"one\r\n# ") == seen
    new.send("echo two\r")
    assert new.read_until(PROMPT) == b"echo two\r\ntwo\r\n# "
    assert host.wait_session_state("connected")["pid"] == pid
    new.close()


def test_a_reload_before_the_old_page_connected_withdraws_its_token(host):
    alice = login(host)
    first = opened(alice, host)
    again = opened(alice, host)  # (a console nobody ever came to ends then: it starts anew)
    cookie = f"{SESSION_COOKIE}={alice.cookies[SESSION_COOKIE]}"
    expect_refused(first["ws_url"], cookie=cookie)
    new = page(alice, again)
    new.banner()
    new.send("echo here\r")
    assert new.read_until(PROMPT) == b"echo here\r\nhere\r\n# "
    new.close()


def test_every_other_login_still_finds_the_console_in_use(host):
    alice = login(host)
    writer = page(alice, opened(alice, host))
    writer.banner()
    host.wait_session_state("connected")
    for other in (login(host), login(host, "bob")):  # another login of hers; another operator
        refused(post(other, host), 409, IN_USE)
        refused(post(other, host, force=True), 403, DENIED)  # no takeover right
    basic = requests.post(
        host.api("vms/mock-vm/serial"), auth=("alice", OPERATOR_PASSWORD), timeout=HTTP_TIMEOUT
    )
    refused(basic, 409, IN_USE)  # HTTP Basic: no login session to recognise
    writer.send("echo still mine\r")
    assert writer.read_until(PROMPT) == b"echo still mine\r\nstill mine\r\n# "
    carol = login(host, "carol")
    taken = opened_with_force(carol, host)
    assert not taken["reattached"]
    assert_final_line(writer.read_until_close(), "SCONS0107L")


def opened_with_force(browser: requests.Session, host: Host) -> dict:
    response = post(browser, host, force=True)
    assert response.status_code == 201, response.text
    return response.json()


def test_with_no_grace_period_a_reload_gets_a_fresh_console(start_host, tmp_path):
    users = write_users_file(tmp_path / "users", "alice")
    options = ("--auth", "users", "--users-file", str(users), "--reattach-grace", "0")
    host = start_host(*options)
    host.auth = ("alice", OPERATOR_PASSWORD)
    alice = login(host)
    old = page(alice, opened(alice, host))
    old.banner()
    pid = host.wait_session_state("connected")["pid"]

    again = opened(alice, host)  # the old page's WebSocket is still open

    assert not again["reattached"]  # its writer sent away ended that console, as leaving does
    assert_final_line(old.read_until_close(), REOPENED)
    new = page(alice, again)
    new.banner()
    assert host.wait_session_state("connected")["pid"] != pid
    new.close()
