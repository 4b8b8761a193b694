"""A login that ends takes its consoles with it: after a logout, or once the operator is
removed from the users file, that login's unused tokens open nothing and its connected
clients are sent away with a final line; other operators' consoles go on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from .helpers import (
    HTTP_TIMEOUT,
    OPERATOR_PASSWORD,
    PROMPT,
    SESSION_COOKIE,
    Host,
    assert_final_line,
    auth_url,
    connect,
    expect_refused,
    login,
    processes_mentioning,
    shared_host,
    wait_for,
    write_users_file,
)

GRACE = 1.0  # --reattach-grace: how long a console whose writer was sent away lives on
# The host looks for a changed users file every 2 s (USERS_FILE_CHECK_INTERVAL).
USERS_FILE_NOTICED = 10.0
LOGIN_ENDED = "SCONS0114L"
BOB = ("bob", OPERATOR_PASSWORD)  # HTTP Basic, for looking on and cleaning up


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> Path:
    return write_users_file(tmp_path_factory.mktemp("logout") / "users", "alice", "bob", "carol")


@pytest.fixture(scope="module")
def logout_host(users_file):
    options = ("--auth", "users", "--users-file", str(users_file))
    yield from shared_host(*options, "--reattach-grace", f"{GRACE:g}")


def sessions(host: Host) -> list[dict]:
    response = requests.get(host.api("sessions"), auth=BOB, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def idle(host: Host) -> bool:
    """No console session, socket, token or console process."""
    files = host.dir_entries() == {"consoles": [], "tokens": []}
    processes = set(processes_mentioning(str(host.run_dir))) - host.baseline
    return files and not processes and sessions(host) == []


@pytest.fixture
def host(logout_host):
    """The module's host, idle before and after each test."""
    wait_for(lambda: idle(logout_host), 5.0, "the host to be idle")
    yield logout_host
    for session in sessions(logout_host):
        response = requests.delete(
            logout_host.api(f"vms/{session['uuid']}/serial"),
            params={"device": session["device"]},
            auth=BOB,
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code in (204, 404), response.text
    wait_for(lambda: idle(logout_host), 5.0, "the host to be idle")


def log_out(host: Host, browser: requests.Session) -> None:
    response = browser.post(auth_url(host, "logout"), timeout=HTTP_TIMEOUT)
    assert response.status_code == 204, response.text


def open_console(host: Host, browser: requests.Session, guest: str = "mock-vm", **body):
    """POST a console with ``browser``'s login and connect to it with its cookie."""
    response = browser.post(host.api(f"vms/{guest}/serial"), json=body or None)
    assert response.status_code == 201, response.text
    console = connect(response.json()["ws_url"], browser.cookies[SESSION_COOKIE])
    console.banner()
    return console


def assert_still_serves(console) -> None:
    console.send("echo still here\r")
    assert console.read_until(b"here\r\n" + PROMPT).endswith(b"still here\r\n# ")


def test_a_token_issued_before_the_logout_opens_nothing_after_it(host):
    alice = login(host)
    cookie = alice.cookies[SESSION_COOKIE]  # as stolen along with the token
    opened = alice.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT)
    assert opened.status_code == 201, opened.text
    log_out(host, alice)
    expect_refused(opened.json()["ws_url"], cookie=f"{SESSION_COOKIE}={cookie}")
    wait_for(lambda: idle(host), 5.0, "the console, its socket and its token to be gone")
    assert "login of operator alice ended: 1 unused console tokens revoked" in host.log()


def test_a_logout_sends_that_logins_writer_and_viewer_away_and_no_one_else(host):
    alice, bob = login(host), login(host, "bob")
    writer = open_console(host, alice)
    viewer = open_console(host, alice, mode="view")
    others = open_console(host, bob, "mock-dual")
    alice_elsewhere = login(host)  # another login of the same operator stays
    wait_for(
        lambda: (
            [
                (s["state"], [v["state"] for v in s["viewers"]])
                for s in sessions(host)
                if s["guest"] == "mock-vm"
            ]
            == [("connected", ["connected"])]
        ),
        5.0,
        "the host to see alice's writer and viewer connected",
    )
    log_out(host, alice)
    for console in (writer, viewer):
        assert_final_line(console.read_until_close(), LOGIN_ENDED, "Your login session ended.")
    assert_still_serves(others)
    assert alice_elsewhere.get(host.api("vms"), timeout=HTTP_TIMEOUT).status_code == 200
    # The writer was sent away, so the console is detached: it ends after the grace period.
    wait_for(
        lambda: [s["guest"] for s in sessions(host)] == ["mock-dual"],
        GRACE + 5.0,
        "alice's console to end after its grace period",
    )
    assert "login of operator alice ended: 0 unused console tokens revoked, 2 clients" in (
        host.log()
    )
    others.close()


def passwd(users_file: Path, *arguments: str) -> None:
    command = [sys.executable, "-m", "plugin_serialconsole.host.passwd"]
    done = subprocess.run(
        [*command, "--users-file", str(users_file), *arguments],
        input=f"{OPERATOR_PASSWORD}\n{OPERATOR_PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


def test_removing_an_operator_from_the_users_file_ends_their_consoles(host, users_file):
    carol, bob = login(host, "carol"), login(host, "bob")
    theirs = open_console(host, carol)
    others = open_console(host, bob, "mock-dual")
    passwd(users_file, "--delete", "carol")
    try:
        # Nobody makes a request: the host notices the changed file by itself.
        ended = theirs.read_until_close(timeout=USERS_FILE_NOTICED)
        assert_final_line(ended, LOGIN_ENDED, "Your login session ended.")
        assert carol.get(host.api("vms"), timeout=HTTP_TIMEOUT).status_code == 401
        assert_still_serves(others)
        assert bob.get(host.api("vms"), timeout=HTTP_TIMEOUT).status_code == 200
    finally:
        passwd(users_file, "carol")
    others.close()
