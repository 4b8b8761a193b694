"""Guests of two hypervisors in one place (issue 16), on the mock's two simulated
hypervisors (``--mock-hypervisors 2``): both listed, a name on both needs qualifying,
the qualified routes open consoles on each, and the copied guest (same name and UUID)
shares nothing with its original."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from .helpers import HTTP_TIMEOUT, PROMPT, Host, shared_host, wait_for, write_rights_file
from .helpers.consoles import Console
from .helpers.operators import login, write_users_file
from .helpers.slow_listing import release

TWIN = "mock-vm"  # on both: mock2's is a copy, with the same UUID
TWIN_UUID = "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001"
WEB2_UUID = "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000201"


@pytest.fixture(scope="module")
def two_host() -> Iterator[Host]:
    yield from shared_host("--mock-hypervisors", "2")


@pytest.fixture
def fleet(two_host: Host, connect) -> Iterator[Host]:
    yield two_host
    two_host.close_all()


def on(hypervisor: str, guest: str, rest: str = "") -> str:
    return f"hypervisors/{hypervisor}/vms/{quote(guest, safe='')}{rest}"


def open_on(host: Host, hypervisor: str, guest: str = TWIN) -> dict:
    opened = host.post(on(hypervisor, guest, "/serial"))
    assert opened.status_code == 201, opened.text
    return opened.json()


def echo(console: Console, text: str) -> None:
    console.send(f"echo {text}\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(f"{text}\r\n# ".encode())


def test_the_list_has_both_hypervisors_guests_in_todays_shape(fleet: Host):
    guests = fleet.get("vms").json()
    assert isinstance(guests, list)
    where = {(g["hypervisor"], g["name"]) for g in guests}
    assert {
        ("default", TWIN),
        ("mock2", TWIN),
        ("mock2", "mock2-web"),
        ("mock2", "mock2-db"),
    } <= where
    assert {"name", "uuid", "state", "consoles", "hypervisor", "rights"} <= set(guests[0])
    only = fleet.get("hypervisors/mock2/vms").json()
    assert sorted(g["name"] for g in only) == [TWIN, "mock2-db", "mock2-web"]
    assert {g["hypervisor"] for g in only} == {"mock2"}


def test_a_name_on_both_is_ambiguous_and_says_where(fleet: Host):
    for path in (f"vms/{TWIN}", f"vms/{TWIN_UUID}"):
        refused = fleet.get(path)
        assert (refused.status_code, refused.json()["code"]) == (409, "SCONS0080E")
        assert "default, mock2" in refused.json()["reason"]
    opening = fleet.post(f"vms/{TWIN}/serial")
    assert (opening.status_code, opening.json()["code"]) == (409, "SCONS0080E")


def test_a_uuid_finds_its_guest_on_any_hypervisor(fleet: Host):
    found = fleet.get(f"vms/{WEB2_UUID}").json()
    assert (found["name"], found["hypervisor"]) == ("mock2-web", "mock2")
    assert fleet.get("vms/mock-dual").json()["hypervisor"] == "default"  # unqualified, unique


def test_an_unknown_hypervisor_is_404_with_a_code(fleet: Host):
    for path in ("hypervisors/nope/vms", on("nope", TWIN), on("nope", TWIN, "/serial")):
        response = fleet.get(path) if not path.endswith("serial") else fleet.post(path)
        assert (response.status_code, response.json()["code"]) == (404, "SCONS0082E")


def test_the_twins_open_at_once_and_share_nothing(fleet: Host, connect):
    first, copy = open_on(fleet, "default"), open_on(fleet, "mock2")
    for opened, hypervisor in ((first, "default"), (copy, "mock2")):
        page_query = parse_qs(urlsplit(opened["page"]).query)
        assert (page_query["guest"], page_query["hypervisor"]) == ([TWIN], [hypervisor])
    consoles = {"default": connect(first["ws_url"]), "mock2": connect(copy["ws_url"])}
    for name, console in consoles.items():
        console.banner()
        echo(console, f"only-on-{name}")
    sessions = {s["hypervisor"]: s for s in fleet.sessions() if s["guest"] == TWIN}
    assert set(sessions) == {"default", "mock2"}
    assert sessions["default"]["pid"] != sessions["mock2"]["pid"]
    assert first["token"] != copy["token"]
    for name in consoles:
        other = "mock2" if name == "default" else "default"
        transcript = fleet.get(on(name, TWIN, "/serial/transcript"))
        assert transcript.status_code == 200, transcript.text
        assert f"only-on-{name}".encode() in transcript.content
        assert f"only-on-{other}".encode() not in transcript.content
        assert fleet.get(on(name, TWIN, "/serial")).json()[0]["hypervisor"] == name
    assert fleet.delete(on("mock2", TWIN, "/serial")).status_code == 204
    consoles["mock2"].read_until_close()
    echo(consoles["default"], "still-here")


def test_send_goes_to_the_guest_of_the_named_hypervisor(fleet: Host, connect):
    console = connect(open_on(fleet, "mock2", "mock2-web")["ws_url"])
    console.banner()
    sent = fleet.post(on("mock2", "mock2-web", "/send"), json={"action": "sysrq", "key": "h"})
    assert sent.status_code == 200, sent.text
    console.read_until(b"sysrq: HELP")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_console_on_an_unreachable_hypervisor_is_503_naming_it(start_host):
    gone = f"qemu+tcp://127.0.0.1:{closed_port()}/system?pkipath=/secret/pki"
    host = start_host("--hypervisor", f"gone={gone}")
    for response in (
        host.post(on("gone", "anything", "/serial")),
        host.get("hypervisors/gone/vms"),
    ):
        assert (response.status_code, response.json()["code"]) == (503, "SCONS0081E")
        assert "gone (qemu+tcp://127.0.0.1:" in response.json()["reason"]
        assert "/secret/pki" not in response.text
    assert {g["hypervisor"] for g in host.get("vms").json()} == {"default"}


def test_the_list_answers_while_a_hypervisor_hangs(start_host):
    """A listener that accepts and never answers: libvirt's connect to it hangs."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(10)
        port = silent.getsockname()[1]
        host = start_host(
            "--mock-hypervisors", "2", "--hypervisor", f"hang=qemu+tcp://127.0.0.1:{port}/system"
        )
        held, _ = silent.accept()  # the host's connect, held open and never answered
        with held:
            listed = host.get("vms")
            assert listed.status_code == 200
            assert {g["hypervisor"] for g in listed.json()} == {"default", "mock2"}
            states = {hv["name"]: hv["state"] for hv in host.get("hypervisors").json()}
            assert states["hang"] in ("connecting", "unreachable")
            held.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # still open: the hang goes on
                assert held.recv(65536) != b"", "the host gave up on the silent hypervisor"


def test_a_connected_hypervisor_slower_than_the_bound_is_listed_as_last_listed(
    start_host, connect, tmp_path
):
    """A healthy hypervisor whose listing takes longer than the bound (hundreds of guests
    over a WAN link) had its guests listed unreachable every time, and refused."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    slow = [sys.executable, "-m", "tests.integration.helpers.slow_listing", str(gate), "mock2"]
    host = start_host("--mock-hypervisors", "2", command=slow)
    try:
        release(gate)
        first = host.get("hypervisors/mock2/vms")  # its first listing answers at once
        assert first.status_code == 200, first.text
        last_states = {g["name"]: g["state"] for g in first.json()}
        assert last_states["mock2-web"] == "running"
        listed = host.get("vms")  # its next listing is held until the gate is released
        assert listed.status_code == 200, listed.text
        mock2 = {g["name"]: g for g in listed.json() if g["hypervisor"] == "mock2"}
        assert {name: g["state"] for name, g in mock2.items()} == last_states
        assert all("listed_at" not in g for g in listed.json() if g["hypervisor"] == "default")
        hypervisors = {hv["name"]: hv for hv in host.get("hypervisors").json()}
        assert (hypervisors["mock2"]["state"], hypervisors["mock2"]["listing"]) == (
            "connected",
            "late",
        )  # answered while mock2's listing is still outstanding
        assert {g["listed_at"] for g in mock2.values()} == {hypervisors["mock2"]["listed_at"]}
        assert hypervisors["default"]["listing"] is None
        assert host.get("vms/mock2-web").json()["state"] == "running"  # unqualified too
        # An action looks its guest up afresh, on the hypervisor's one call queue: behind
        # the held listing, and answered once it is let through.
        with ThreadPoolExecutor(1) as opener:
            opening = opener.submit(open_on, host, "mock2", "mock2-web")
            release(gate)
            console = connect(opening.result(timeout=HTTP_TIMEOUT)["ws_url"])
        console.banner()
        echo(console, "opened-once-it-answered")
    finally:
        release(gate, 100)  # the held listing and any later one
    host.close_all()


def test_the_twins_capture_logs_are_their_own(start_host, connect):
    host = start_host("--mock-hypervisors", "2", "--capture", "all")

    def twins_captured() -> bool:
        return {s["hypervisor"] for s in host.sessions() if s["guest"] == TWIN} == {
            "default",
            "mock2",
        }

    wait_for(twins_captured, 10.0, "both twins captured")
    for hypervisor in ("default", "mock2"):
        console = connect(open_on(host, hypervisor)["ws_url"])  # joins the capture
        console.send(f"echo logged-on-{hypervisor}\r")
        console.read_until(f"\r\nlogged-on-{hypervisor}\r\n".encode())
        console.send(b"\x11")
        console.read_until_close()
    for hypervisor, other in (("default", "mock2"), ("mock2", "default")):

        def logged(hypervisor: str = hypervisor) -> bytes | None:
            response = host.get(on(hypervisor, TWIN, "/serial/log"))
            mine = f"logged-on-{hypervisor}".encode()
            return response.content if mine in response.content else None

        log = wait_for(logged, 10.0, f"the log of {TWIN} on {hypervisor}")
        assert f"logged-on-{other}".encode() not in log


def test_a_name_on_both_that_the_operator_may_not_view_is_404_naming_nothing(start_host, tmp_path):
    """The 409 listing the hypervisors came before the view check: an operator without
    view on the twins learnt that they exist, and where."""
    rights = write_rights_file(tmp_path / "rights", "alice * view", "carol mock2-web view audit")
    users = write_users_file(tmp_path / "users", "alice", "carol")
    host = start_host(
        "--mock-hypervisors", "2", "--auth", "users", "--users-file", str(users),
        "--rights-file", str(rights),
    )  # fmt: skip
    carol = login(host, "carol")
    for path, query in (("vms/" + TWIN, {}), ("audit", {"guest": TWIN})):
        hidden = carol.get(host.api(path), params=query, timeout=HTTP_TIMEOUT)
        assert (hidden.status_code, hidden.json()["code"]) == (404, "SCONS0001E"), hidden.text
        assert "mock2" not in hidden.text and "default" not in hidden.text
    seen = login(host, "alice").get(host.api("vms/" + TWIN), timeout=HTTP_TIMEOUT)
    assert (seen.status_code, seen.json()["code"]) == (409, "SCONS0080E")
