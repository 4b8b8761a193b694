"""The plugin inside Wok: loaded by (a stand-in for) Wok's plugin loader, its operators
logged in by Wok, its activity in Wok's request log (issue 19)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
import websocket

from plugin_serialconsole import i18n
from plugin_serialconsole.host.config import mock_uri

from .helpers import PROMPT, WS_TIMEOUT, Console, assert_final_line, expect_refused
from .helpers.host import HTTP_TIMEOUT
from .helpers.waiting import wait_for
from .helpers.wok import PASSWORD, WokStandin

JSON = {"Accept": "application/json"}
XHR = {"X-Requested-With": "XMLHttpRequest"}
WOK_WS_PORT = 64667


@pytest.fixture(scope="module", params=["none"])
def wok(request) -> Iterator[WokStandin]:
    """A stand-in Wok; a test parametrized indirectly with "all" has captures on."""
    standin = WokStandin(plugin={"capture": request.param})
    try:
        yield standin.start()
    finally:
        standin.finish()


def test_wok_pages_still_render_with_the_plugin_mounted(wok):
    """Wok reads ``extends`` of every mounted root for its own pages."""
    assert requests.get(wok.url + "login.html", timeout=HTTP_TIMEOUT).status_code == 200


def test_the_tab_points_wok_at_a_fragment_of_the_plugin(wok):
    tabs = requests.get(wok.plugin("ui/config/tab-ext.xml"), timeout=HTTP_TIMEOUT)
    assert tabs.status_code == 200
    assert "<path>plugins/serialconsole/tabs/serialconsole.html</path>" in tabs.text
    fragment = requests.get(wok.plugin("tabs/serialconsole.html"), timeout=HTTP_TIMEOUT)
    assert fragment.status_code == 200
    assert fragment.headers["Content-Type"].startswith("text/html")
    assert '<iframe src="/plugins/serialconsole/"' in fragment.text
    # quoted, as Wok's own; Wok's login page strips the quotes
    assert fragment.cookies["lastPage"].strip('"') == "/#plugins/serialconsole/tabs/serialconsole"


def test_without_a_wok_login_the_api_asks_for_one(wok):
    answer = requests.get(wok.plugin("vms"), headers=JSON, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 401
    assert answer.json()["code"] == i18n.AUTHENTICATION_REQUIRED


def test_the_wok_login_cookie_reaches_the_plugin(wok):
    """Wok's session config stays on the plugin's mount: it is merged with the plugin's."""
    browser = wok.login("bob")
    answer = browser.get(wok.plugin("vms"), headers=JSON, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert "mock-vm" in {guest["name"] for guest in answer.json()}


def test_rest_clients_log_in_with_basic_as_in_wok(wok):
    auth = ("bob", PASSWORD)
    answer = requests.get(wok.plugin("sessions"), auth=auth, headers=JSON, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    wrong = requests.get(wok.plugin("sessions"), auth=("bob", "x"), headers=JSON, timeout=5)
    assert wrong.status_code == 401


def test_a_post_on_the_login_cookie_without_the_browser_header_is_refused(wok):
    """A page of another site can make the browser POST with Wok's cookie, but cannot add
    X-Requested-With (a CORS preflight would ask first)."""
    browser = wok.login("alice")
    answer = browser.post(wok.plugin("vms/mock-vm/serial"), json={}, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 403
    assert answer.json()["code"] == i18n.WOK_REQUESTED_WITH_REQUIRED
    assert browser.get(wok.plugin("sessions"), headers=JSON, timeout=HTTP_TIMEOUT).json() == []


@pytest.mark.parametrize("wok", ["none", "all"], indirect=True)
def test_a_console_through_a_wok_login_lands_in_wok_activity_log(wok):
    browser = wok.login("alice")
    opened = browser.post(
        wok.plugin("vms/mock-vm/serial"), json={}, headers=XHR, timeout=HTTP_TIMEOUT
    )
    assert opened.status_code == 201, opened.text
    ws_url = opened.json()["ws_url"]
    assert f":{WOK_WS_PORT}/" not in ws_url  # Wok's own websockify has that port
    cookie = browser.headers["Cookie"]
    console = Console(websocket.create_connection(ws_url, timeout=WS_TIMEOUT, cookie=cookie))
    console.read_until(PROMPT)
    console.send("echo through-wok\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(b"through-wok\r\n# ")
    closed = browser.delete(wok.plugin("vms/mock-vm/serial"), headers=XHR, timeout=HTTP_TIMEOUT)
    assert closed.status_code == 204
    console.read_until_close()

    def entries() -> list[tuple[str, str, str, str]]:
        return [
            (e["message"]["code"], e["info"]["req"], e["info"]["user"], e["info"]["app"])
            for e in wok.activity()
        ]

    wait_for(lambda: (i18n.SESSION_ENDED, "DELETE", "alice", "/plugins/serialconsole") in entries())
    assert (i18n.SESSION_OPENED, "POST", "alice", "/plugins/serialconsole") in entries()
    [opened_entry] = [e for e in wok.activity() if e["message"]["code"] == i18n.SESSION_OPENED]
    assert opened_entry["message"]["params"] == {"guest": "mock-vm", "device": "serial0"}
    assert opened_entry["info"]["ip"] == "127.0.0.1"


def test_a_console_token_is_bound_to_the_wok_login_that_asked_for_it(wok):
    browser = wok.login("alice")
    opened = browser.post(
        wok.plugin("vms/mock-vm/serial"), json={}, headers=XHR, timeout=HTTP_TIMEOUT
    )
    assert opened.status_code == 201, opened.text
    other = wok.login("alice").headers["Cookie"]
    expect_refused(opened.json()["ws_url"], cookie=other)
    closed = browser.delete(wok.plugin("vms/mock-vm/serial"), headers=XHR, timeout=HTTP_TIMEOUT)
    assert closed.status_code == 204


def test_a_wok_logout_sends_that_login_consoles_away(wok):
    browser = wok.login("bob")
    opened = browser.post(
        wok.plugin("vms/mock-dual/serial"), json={}, headers=XHR, timeout=HTTP_TIMEOUT
    )
    assert opened.status_code == 201, opened.text
    cookie = browser.headers["Cookie"]
    console = Console(
        websocket.create_connection(opened.json()["ws_url"], timeout=WS_TIMEOUT, cookie=cookie)
    )
    console.read_until(PROMPT)
    assert browser.post(wok.url + "logout", timeout=HTTP_TIMEOUT).status_code == 200
    assert_final_line(console.read_until_close(), i18n.LOGIN_ENDED, "Your login session ended.")


def test_wok_own_websocket_port_is_refused():
    """Wok's websockify owns 64667: a conf file that gives it to the consoles is refused,
    and Wok leaves the plugin out."""
    standin = WokStandin(ws_port=str(WOK_WS_PORT))
    try:
        standin.start()
        answer = requests.get(standin.plugin("vms"), headers=JSON, timeout=HTTP_TIMEOUT)
        assert answer.status_code == 404
        assert "is Wok's own websockets_port" in standin.log()
    finally:
        standin.finish()


def test_inside_wok_the_plugins_console_events_reach_its_audit_log(wok):
    """Wok's logins are Wok's to log; what operators do with consoles is the plugin's."""
    browser = wok.login("bob")
    opened = browser.post(
        wok.plugin("vms/mock-vm/serial"), json={}, headers=XHR, timeout=HTTP_TIMEOUT
    )
    assert opened.status_code == 201, opened.text
    closed = browser.delete(wok.plugin("vms/mock-vm/serial"), headers=XHR, timeout=HTTP_TIMEOUT)
    assert closed.status_code == 204
    audit_log = wok.base / "state" / "audit.log"

    def bobs_session() -> list[dict]:
        if not audit_log.exists():
            return []
        trail = [json.loads(line) for line in audit_log.read_text().splitlines()]
        mine = [e for e in trail if e["operator"] == "bob" and e["event"] == "opened"]
        return [e for e in trail if mine and e["session"] == mine[-1]["session"]]

    events = wait_for(lambda: len(bobs_session()) == 2 and bobs_session(), what="bob's session")
    assert [e["event"] for e in events] == ["opened", "ended"]
    assert events[1]["reason"] == "operator-ended"
    for event in events:
        assert (event["guest"], event["device"], event["client"]) == (
            "mock-vm",
            "serial0",
            "127.0.0.1",
        )
        assert len(event["login"]) == 16 and event["login"] not in browser.headers["Cookie"]


SECRET = "/secret/pki-under-wok"


def closed_port() -> int:
    """A loopback port nothing listens on (connects to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def wok_fleet() -> Iterator[WokStandin]:
    """A stand-in Wok whose conf file names a second simulated hypervisor and one that
    refuses connections, its URI carrying a credentials path."""
    gone = f"qemu+tcp://127.0.0.1:{closed_port()}/system?pkipath={SECRET}"
    standin = WokStandin(hypervisors={"second": mock_uri("mock/mock2.xml"), "gone": gone})
    try:
        yield standin.start()
    finally:
        standin.finish()


def test_under_wok_every_hypervisor_of_the_conf_file_is_served(wok_fleet):
    browser = wok_fleet.login("bob")
    answer = browser.get(wok_fleet.plugin("hypervisors"), headers=JSON, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    states = {hv["name"]: hv["state"] for hv in answer.json()}
    assert states == {"default": "connected", "second": "connected", "gone": "unreachable"}
    assert SECRET not in answer.text
    assert SECRET not in wok_fleet.log()
    assert "gone (qemu+tcp://127.0.0.1:" in wok_fleet.log()  # named in the mount line


def test_under_wok_the_guest_list_holds_each_hypervisor_guests(wok_fleet):
    browser = wok_fleet.login("bob")
    answer = browser.get(wok_fleet.plugin("vms"), headers=JSON, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    where = {(guest["hypervisor"], guest["name"]) for guest in answer.json()}
    assert {("default", "mock-vm"), ("second", "mock-vm"), ("second", "mock2-web")} <= where


def test_under_wok_a_console_of_the_second_hypervisor_opens_qualified(wok_fleet):
    browser = wok_fleet.login("alice")
    route = wok_fleet.plugin("hypervisors/second/vms/mock-vm/serial")
    opened = browser.post(route, json={}, headers=XHR, timeout=HTTP_TIMEOUT)
    assert opened.status_code == 201, opened.text
    assert "hypervisor=second" in opened.json()["page"]
    cookie = browser.headers["Cookie"]
    ws = websocket.create_connection(opened.json()["ws_url"], timeout=WS_TIMEOUT, cookie=cookie)
    console = Console(ws)
    console.read_until(PROMPT)
    console.send("echo on-second\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(b"on-second\r\n# ")
    assert browser.delete(route, headers=XHR, timeout=HTTP_TIMEOUT).status_code == 204
    console.read_until_close()


def test_a_hypervisor_the_adapter_cannot_use_is_refused_with_why():
    """A bad ``[hypervisors]`` line is a bad conf file: Wok logs why, leaves the plugin out."""
    standin = WokStandin(hypervisors={"no/slash": mock_uri("mock/mock2.xml")})
    try:
        standin.start()
        answer = requests.get(standin.plugin("vms"), headers=JSON, timeout=HTTP_TIMEOUT)
        assert answer.status_code == 404
        assert "[hypervisors] hypervisor name 'no/slash'" in standin.log()
    finally:
        standin.finish()
