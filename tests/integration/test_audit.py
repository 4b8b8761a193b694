"""The audit log on a real host: a console session's events tied by one session id, the
real client address behind nginx, no secret in the file, and ``GET /audit``'s right."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from plugin_serialconsole.auditlimit import PER_CLIENT
from plugin_serialconsole.host.throttle import FREE_TRIES_PER_NAME

from .helpers import HTTP_TIMEOUT, Host, run_refused_host, write_rights_file
from .helpers.audit import audit_file, events, users_host, wait_event
from .helpers.operators import (
    OPERATOR_PASSWORD,
    SESSION_COOKIE,
    auth_url,
    connect,
    login,
    write_users_file,
)
from .nginx import FromAddress, client_at, proxy_for

WRONG_PASSWORD = "not-the-pw-7f3a"


def test_a_console_sessions_events_are_tied_by_its_session_id(start_host, tmp_path):
    host = users_host(start_host, tmp_path, "alice", "bob")
    alice = login(host, "alice")
    opened = alice.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT)
    assert opened.status_code == 201, opened.text
    console = connect(opened.json()["ws_url"], alice.cookies[SESSION_COOKIE])
    console.banner()
    # The host learns of the connection from the console process: its event may follow
    # one the test causes at once; the trail's order is checked from here on.
    wait_event(host, "connected", operator="alice")
    sysrq = alice.post(
        host.api("vms/mock-vm/send"), json={"action": "sysrq", "key": "h"}, timeout=HTTP_TIMEOUT
    )
    assert sysrq.status_code == 200, sysrq.text
    bob = login(host, "bob")
    taken = bob.post(host.api("vms/mock-vm/serial"), json={"force": True}, timeout=HTTP_TIMEOUT)
    assert taken.status_code == 201, taken.text
    console.read_until_close()
    ended = wait_event(host, "ended", operator="alice")
    takeover = wait_event(host, "takeover", operator="bob")
    bobs_session = takeover["session"]

    trail = events(host)
    session = ended["session"]
    mine = [e for e in trail if e["session"] == session]
    assert [e["event"] for e in mine] == ["opened", "connected", "send", "left", "ended"]
    (logged_in,) = [e for e in trail if e["event"] == "login" and e["operator"] == "alice"]
    assert trail.index(logged_in) < trail.index(mine[0])
    for event in [logged_in, *mine]:
        assert event["login"] == logged_in["login"] and len(event["login"]) == 16
        assert event["operator"] == "alice" and event["client"] == "127.0.0.1"
    for event in mine:
        assert (event["guest"], event["device"], event["hypervisor"]) == (
            "mock-vm",
            "serial0",
            "default",
        )
        assert event["uuid"]
    assert mine[0]["mode"] == "write"
    assert (mine[2]["action"], mine[2]["key"]) == ("sysrq", "h")
    assert (mine[4]["reason"], mine[4]["by"]) == ("taken-over", "bob")
    assert takeover["displaced"] == "alice" and takeover["displaced_session"] == session
    assert bobs_session != session
    assert [e["event"] for e in trail if e["session"] == bobs_session][:2] == [
        "opened",
        "takeover",
    ]
    times = [e["time"] for e in trail]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)


def test_no_token_password_or_cookie_reaches_the_audit_file(start_host, tmp_path):
    host = users_host(start_host, tmp_path, "alice")
    browser = login(host, "alice")
    failed = requests.post(
        auth_url(host, "login"),
        json={"username": "alice", "password": WRONG_PASSWORD},
        timeout=HTTP_TIMEOUT,
    )
    assert failed.status_code == 401
    opened = browser.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT).json()
    console = connect(opened["ws_url"], browser.cookies[SESSION_COOKIE])
    console.banner()
    console.close()
    basic = requests.get(host.api("vms"), auth=("alice", OPERATOR_PASSWORD), timeout=HTTP_TIMEOUT)
    assert basic.status_code == 200
    csrf = browser.headers["X-CSRF-Token"]
    logout = browser.post(auth_url(host, "logout"), timeout=HTTP_TIMEOUT)
    assert logout.status_code == 204
    wait_event(host, "logout", operator="alice")
    wait_event(host, "ended", session=wait_event(host, "opened")["session"])

    text = audit_file(host).read_text()
    secrets = {
        "password": OPERATOR_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "token": opened["token"],
        "cookie": browser.cookies.get(SESSION_COOKIE) or logout.request.headers["Cookie"],
        "csrf token": csrf,
    }
    for name, value in secrets.items():
        assert value and value not in text, f"the {name} is in the audit file"
    assert oct(audit_file(host).stat().st_mode & 0o777) == "0o600"


def test_a_failed_login_and_a_denial_name_the_real_client_behind_nginx(start_host, tmp_path):
    rights = write_rights_file(tmp_path / "rights", "alice mock-vm view")
    host = users_host(
        start_host,
        tmp_path,
        "alice",
        options=("--rights-file", str(rights), "--trusted-proxy", "127.0.0.1"),
    )
    server = proxy_for(host)
    try:
        client = client_at("127.0.0.2", server)
        client.headers["X-Forwarded-For"] = "203.0.113.9"  # the client's own say: not believed
        failed = client.post(
            server.origin + "/auth/login",
            json={"username": "alice", "password": WRONG_PASSWORD},
            timeout=HTTP_TIMEOUT,
        )
        assert failed.status_code == 401
        entered = client.post(
            server.origin + "/auth/login",
            json={"username": "alice", "password": OPERATOR_PASSWORD},
            timeout=HTTP_TIMEOUT,
        )
        assert entered.status_code == 200, entered.text
        client.headers["X-CSRF-Token"] = entered.json()["csrf_token"]
        api = server.origin + "/plugins/serialconsole/"
        denied = client.post(api + "vms/mock-vm/serial", timeout=HTTP_TIMEOUT)
        assert denied.status_code == 403 and denied.json()["code"] == "SCONS0055E"
        hidden = client.get(api + "vms/mock-dual", timeout=HTTP_TIMEOUT)
        assert hidden.status_code == 404
        anonymous = client_at("127.0.0.3", server).get(api + "vms", timeout=HTTP_TIMEOUT)
        assert anonymous.status_code == 401
    finally:
        server.stop()
    assert wait_event(host, "login-failed", operator="alice")["client"] == "127.0.0.2"
    forbidden = wait_event(host, "denied", status=403, guest="mock-vm")
    assert (forbidden["client"], forbidden["right"], forbidden["code"]) == (
        "127.0.0.2",
        "console",
        "SCONS0055E",
    )
    unseen = wait_event(host, "denied", status=404, guest="mock-dual")
    assert (unseen["client"], unseen["operator"], unseen["right"]) == ("127.0.0.2", "alice", "view")
    nobody = wait_event(host, "denied", status=401)
    assert (nobody["client"], nobody["operator"]) == ("127.0.0.3", None)


@pytest.fixture
def audited_host(start_host, tmp_path) -> Host:
    """Operators with and without ``audit``; alice has worked on both guests."""
    rules = ("alice * takeover", "carol mock-vm view audit", "dave mock-vm view", "eve * audit")
    rights = write_rights_file(tmp_path / "rights", *rules)
    host = users_host(
        start_host,
        tmp_path,
        "alice",
        "carol",
        "dave",
        "eve",
        options=("--rights-file", str(rights)),
    )
    alice = login(host, "alice")
    for guest in ("mock-vm", "mock-dual"):
        assert alice.post(host.api(f"vms/{guest}/serial"), timeout=HTTP_TIMEOUT).ok
        assert alice.delete(host.api(f"vms/{guest}/serial"), timeout=HTTP_TIMEOUT).ok
        wait_event(host, "ended", guest=guest)
    return host


def read_audit(host: Host, who: str, **query: str) -> requests.Response:
    return login(host, who).get(host.api("audit"), params=query, timeout=HTTP_TIMEOUT)


def test_the_audit_api_answers_only_what_the_audit_right_covers(audited_host):
    host = audited_host
    everything = read_audit(host, "eve")
    assert everything.status_code == 200, everything.text
    assert {"login", "opened", "ended"} <= {e["event"] for e in everything.json()}
    assert {e["guest"] for e in everything.json()} >= {"mock-vm", "mock-dual", None}

    carols = read_audit(host, "carol").json()
    assert carols and {e["guest"] for e in carols} == {"mock-vm"}, "no logins, no mock-dual"
    assert read_audit(host, "carol", guest="mock-vm").json() == carols
    assert read_audit(host, "carol", guest="mock-dual").status_code == 404  # no view on it

    assert read_audit(host, "dave").json() == []
    refused = read_audit(host, "dave", guest="mock-vm")
    assert refused.status_code == 403 and refused.json()["code"] == "SCONS0055E"


def test_the_audit_api_filters_and_validates_its_query(audited_host):
    host = audited_host
    eve = login(host, "eve")
    every = eve.get(host.api("audit"), timeout=HTTP_TIMEOUT).json()
    last_two = eve.get(host.api("audit"), params={"limit": "2"}, timeout=HTTP_TIMEOUT).json()
    assert last_two == every[-2:]
    middle = every[len(every) // 2]["time"]
    since = eve.get(host.api("audit"), params={"since": middle}, timeout=HTTP_TIMEOUT).json()
    assert since and all(e["time"] >= middle for e in since)
    until = eve.get(host.api("audit"), params={"until": middle}, timeout=HTTP_TIMEOUT).json()
    assert until and all(e["time"] <= middle for e in until)
    alices = eve.get(host.api("audit"), params={"operator": "alice"}, timeout=HTTP_TIMEOUT)
    assert {e["operator"] for e in alices.json()} == {"alice"}
    for bad in ({"limit": "0"}, {"limit": "10001"}, {"since": "yesterday"}, {"what": "x"}):
        answer = eve.get(host.api("audit"), params=bad, timeout=HTTP_TIMEOUT)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["code"].startswith("SCONS")


def test_without_an_audit_log_the_api_says_so(start_host):
    host = start_host("--audit-log", "no")
    answer = host.get("audit")
    assert answer.status_code == 404 and answer.json()["code"] == "SCONS0140E"
    assert not audit_file(host).exists()


def test_a_client_that_leaves_and_a_token_never_used_end_their_sessions(start_host, tmp_path):
    host = users_host(start_host, tmp_path, "alice", options=("--token-ttl", "1"))
    alice = login(host, "alice")
    opened = alice.post(host.api("vms/mock-vm/serial"), timeout=HTTP_TIMEOUT)
    assert opened.status_code == 201, opened.text
    console = connect(opened.json()["ws_url"], alice.cookies[SESSION_COOKIE])
    console.banner()
    console.send(b"\x11")  # Ctrl+Q
    console.read_until_close()
    session = wait_event(host, "opened", guest="mock-vm")["session"]
    ended = wait_event(host, "ended", session=session)
    assert [e["event"] for e in events(host) if e["session"] == session] == [
        "opened",
        "connected",
        "left",
        "ended",
    ]
    assert ended["reason"] == "ctrl-q"

    unused = alice.post(host.api("vms/mock-dual/serial"), timeout=HTTP_TIMEOUT)
    assert unused.status_code == 201, unused.text
    lapsed = wait_event(host, "opened", guest="mock-dual")["session"]
    assert wait_event(host, "ended", session=lapsed)["reason"] in ("expired", "nobody-came")
    assert [e["event"] for e in events(host) if e["session"] == lapsed] == ["opened", "ended"]


def test_a_flood_of_refused_requests_cannot_rotate_the_trail_away(start_host, tmp_path):
    """Anyone who reaches the host can be refused; what they cause is capped per client
    and counted, so the events that matter stay in the kept files."""
    host = users_host(start_host, tmp_path, "alice")
    login(host, "alice")
    flood = requests.Session()
    flood.mount("http://", FromAddress("127.0.0.2"))
    for _ in range(400):
        assert flood.get(host.api("vms"), timeout=HTTP_TIMEOUT).status_code == 401
    flood.close()
    trail = events(host)
    assert [e["operator"] for e in trail if e["event"] == "login"] == ["alice"]
    assert len([e for e in trail if e["event"] == "denied"]) == PER_CLIENT
    assert host.terminate() == 0  # the count held back is written as the trail closes
    (suppressed,) = [e for e in events(host) if e["event"] == "suppressed"]
    assert (suppressed["client"], suppressed["count"]) == ("127.0.0.2", 400 - PER_CLIENT)


def raw_get(url: str, target: str) -> bytes:
    """The status line of ``GET target``, sent with no header but Host, so the longest
    path the host's head limit lets through fits."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), HTTP_TIMEOUT) as plain:
        plain.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return plain.makefile("rb").readline()


def test_hostile_text_is_cut_and_the_trail_still_reads_from_a_time_on(start_host, tmp_path):
    """Unauthenticated, a path of ``%01`` (each escaped to six bytes) up to the head limit
    once wrote a line past 64 KiB, which the reader skips, and which, as a file's last,
    hid the whole file from ``?since=``; a user name too long ran on as well."""
    host = users_host(start_host, tmp_path, "alice")
    alice = login(host, "alice")
    since = wait_event(host, "login", operator="alice")["time"]
    guess = {"username": "x" * 3000, "password": WRONG_PASSWORD}
    refused = requests.post(auth_url(host, "login"), json=guess, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 401
    mount = urlsplit(host.api("")).path
    assert b" 401 " in raw_get(host.url, mount + "%01" * 10886)
    denied = wait_event(host, "denied", status=401)
    failed = wait_event(host, "login-failed")
    assert len(denied["path"]) == len(failed["operator"]) == 256
    assert denied["truncated"] == ["path"] and failed["truncated"] == ["operator"]
    assert max(len(line) for line in audit_file(host).read_bytes().splitlines()) < 4096
    answer = alice.get(host.api("audit"), params={"since": since}, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert [e["event"] for e in answer.json()] == ["login", "login-failed", "denied"]


def test_throttled_logins_and_an_operator_removed_from_the_users_file_are_logged(
    start_host, tmp_path
):
    host = users_host(start_host, tmp_path, "alice", "bob")
    login(host, "alice")
    guess = {"username": "bob", "password": WRONG_PASSWORD}
    statuses = [
        requests.post(auth_url(host, "login"), json=guess, timeout=HTTP_TIMEOUT).status_code
        for _ in range(FREE_TRIES_PER_NAME + 1)
    ]
    assert statuses == [401] * FREE_TRIES_PER_NAME + [429]
    throttled = wait_event(host, "login-throttled", operator="bob")
    assert throttled["client"] == "127.0.0.1" and throttled["login"] is None
    write_users_file(tmp_path / "users", "bob")
    removed = wait_event(host, "logout", operator="alice")
    assert removed["reason"] == "removed"


def test_an_audit_log_that_cannot_be_written_stops_the_host_at_start(tmp_path):
    run_dir = Path(tempfile.mkdtemp(prefix="sc", dir="/tmp"))  # short: it holds sockets
    missing = tmp_path / "no"
    try:
        refused = run_refused_host(run_dir, "--audit-log", str(missing / "audit.log"))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    assert refused.returncode == 2, refused.stderr
    assert "audit_log" in refused.stderr and str(missing) in refused.stderr


def test_the_audit_api_names_a_guest_on_two_hypervisors_and_keeps_them_apart(start_host, tmp_path):
    """``guest=mock-vm`` could only answer 409, the schema refused ``hypervisor``, and a
    guest was matched by name or UUID: its copy on another hypervisor was mixed in."""
    rights = write_rights_file(tmp_path / "rights", "alice * takeover", "eve * audit")
    host = users_host(
        start_host,
        tmp_path,
        "alice",
        "eve",
        options=("--rights-file", str(rights), "--mock-hypervisors", "2"),
    )
    alice = login(host, "alice")
    for hypervisor in ("default", "mock2"):  # the copy has the same name and UUID
        where = host.api(f"hypervisors/{hypervisor}/vms/mock-vm/serial")
        assert alice.post(where, timeout=HTTP_TIMEOUT).ok
        assert alice.delete(where, timeout=HTTP_TIMEOUT).ok
        wait_event(host, "ended", guest="mock-vm", hypervisor=hypervisor)

    ambiguous = read_audit(host, "eve", guest="mock-vm")
    assert (ambiguous.status_code, ambiguous.json()["code"]) == (409, "SCONS0080E")
    for hypervisor in ("default", "mock2"):
        answer = read_audit(host, "eve", guest="mock-vm", hypervisor=hypervisor)
        assert answer.status_code == 200, answer.text
        assert {"opened", "ended"} <= {e["event"] for e in answer.json()}
        assert {(e["hypervisor"], e["guest"]) for e in answer.json()} == {(hypervisor, "mock-vm")}
    on_mock2 = read_audit(host, "eve", hypervisor="mock2").json()
    assert on_mock2 and {e["hypervisor"] for e in on_mock2} == {"mock2"}
    for query in ({"guest": "mock-vm", "hypervisor": "nowhere"}, {"hypervisor": "nowhere"}):
        unknown = read_audit(host, "eve", **query)
        assert (unknown.status_code, unknown.json()["code"]) == (404, "SCONS0082E")
