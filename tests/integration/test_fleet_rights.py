"""Rights rules that name a hypervisor (``hypervisor:guests``), on the mock's two
simulated hypervisors: ``mock-vm`` exists on ``default`` and, copied with its name and
UUID, on ``mock2``. A rule by name alone grants on both; a rule naming a hypervisor
grants on its guests only, for every REST call and again at the WebSocket."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from .helpers import (
    OPERATOR_PASSWORD,
    Host,
    expect_refused,
    idle_between_tests,
    shared_host,
    write_rights_file,
    write_users_file,
)
from .helpers.audit import wait_event

TWIN = "mock-vm"  # on both hypervisors: mock2's is a copy, with the same UUID
ALICE = ("alice", OPERATOR_PASSWORD)  # views both twins, writes default's only
BOB = ("bob", OPERATOR_PASSWORD)  # group ops: every right everywhere
CAROL = ("carol", OPERATOR_PASSWORD)  # default's twin only: console and audit
DAVE = ("dave", OPERATOR_PASSWORD)  # every guest of mock2, nothing of default
RULES = (
    "@ops     *                  all",
    "alice    mock-vm            view",
    "alice    default:mock-vm    console",
    "carol    default:mock-vm    console audit",
    "dave     mock2:*            view",
)
DENIED = "SCONS0055E"
NOT_FOUND = "SCONS0001E"


def on(hypervisor: str, guest: str = TWIN, rest: str = "") -> str:
    return f"hypervisors/{hypervisor}/vms/{quote(guest, safe='')}{rest}"


def status(response) -> tuple[int, str | None]:
    code = response.json().get("code") if response.status_code >= 400 else None
    return response.status_code, code


def replace_rules(path: Path, *rules: str) -> None:
    """A new rights file in place of the old one, as an editor saving it would."""
    write_rights_file(path.with_name(path.name + ".new"), *rules)
    os.replace(path.with_name(path.name + ".new"), path)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory) -> Path:
    return write_rights_file(tmp_path_factory.mktemp("rights") / "rights", *RULES)


@pytest.fixture(scope="module")
def two_host(tmp_path_factory, rules_file: Path) -> Iterator[Host]:
    users = tmp_path_factory.mktemp("users") / "users"
    write_users_file(users, "alice", "bob", "carol", "dave", groups={"bob": "ops"})
    options = ("--auth", "users", "--users-file", str(users), "--rights-file", str(rules_file))
    for host in shared_host("--mock-hypervisors", "2", *options):
        host.auth = BOB  # who looks on and cleans up
        yield host


@pytest.fixture
def host(two_host: Host, rules_file: Path) -> Iterator[Host]:
    yield from idle_between_tests(two_host)
    replace_rules(rules_file, *RULES)


def test_a_rule_naming_a_hypervisor_grants_on_its_guest_only(host, connect):
    listed = {(g["hypervisor"], g["name"]): g["rights"] for g in host.get("vms", auth=CAROL).json()}
    assert listed == {("default", TWIN): ["view", "console", "audit"]}
    assert status(host.post(on("mock2", rest="/serial"), json={}, auth=CAROL)) == (404, NOT_FOUND)
    assert status(host.get(on("mock2"), auth=CAROL)) == (404, NOT_FOUND)
    # unqualified, the name is of the one twin she may view: no 409 naming the other
    assert host.get(f"vms/{TWIN}", auth=CAROL).json()["hypervisor"] == "default"
    opened = host.post(on("default", rest="/serial"), json={}, auth=CAROL)
    assert opened.status_code == 201, opened.text
    console = connect(opened.json()["ws_url"])
    console.banner()


def test_a_copy_on_another_hypervisor_does_not_share_the_originals_rights(host):
    listed = {(g["hypervisor"], g["name"]): g["rights"] for g in host.get("vms", auth=ALICE).json()}
    assert listed == {("default", TWIN): ["view", "console"], ("mock2", TWIN): ["view"]}
    refused = host.post(on("mock2", rest="/serial"), json={}, auth=ALICE)
    assert status(refused) == (403, DENIED)
    assert host.post(on("mock2", rest="/serial"), json={"mode": "view"}, auth=ALICE).ok
    assert host.get(on("default", rest="/send"), auth=ALICE).json()["actions"] == ["control"]
    assert host.get(on("mock2", rest="/send"), auth=ALICE).json()["actions"] == []
    host.wait_log(f"operator alice denied console on guest {TWIN} (hypervisor mock2)")


def test_the_token_check_asks_about_the_tokens_hypervisor(host, rules_file):
    """Console on the copy is not console on the original: a token for default's twin,
    once the rules move alice's console right to mock2's, opens nothing."""
    writer = host.post(on("default", rest="/serial"), json={}, auth=ALICE)
    assert writer.status_code == 201, writer.text
    replace_rules(rules_file, "@ops * all", "alice mock-vm view", "alice mock2:mock-vm console")
    expect_refused(writer.json()["ws_url"])
    host.wait_log(f"no console right on guest {TWIN} (hypervisor default)")


def test_sessions_hypervisor_counts_and_downloads_are_per_hypervisor(host, connect):
    for hypervisor in ("default", "mock2"):  # bob's, one on each twin
        connect(host.post(on(hypervisor, rest="/serial"), json={}).json()["ws_url"]).banner()
    seen = {(s["hypervisor"], s["guest"]) for s in host.get("sessions", auth=CAROL).json()}
    assert seen == {("default", TWIN)}
    assert host.get("vms").ok  # every hypervisor listed: counts are of that listing
    everything = {h["name"]: h["guests"] for h in host.get("hypervisors").json()}
    for who, counts in ((CAROL, {"default": 1, "mock2": 0}), (DAVE, {"default": 0})):
        shown = {h["name"]: h["guests"] for h in host.get("hypervisors", auth=who).json()}
        assert shown == {**everything, **counts}, who
    for path in ("/serial/transcript", "/serial/log", "/recordings"):
        assert status(host.get(on("mock2", rest=path), auth=CAROL)) == (404, NOT_FOUND), path
    assert host.get(on("default", rest="/serial/transcript"), auth=CAROL).status_code == 200
    assert host.get(on("default", rest="/recordings"), auth=CAROL).status_code == 200


def test_the_audit_trail_shows_the_events_of_the_hypervisor_the_rule_names(host):
    for hypervisor in ("mock2", "default"):
        assert host.post(on(hypervisor, rest="/serial"), json={"mode": "view"}).ok
        wait_event(host, "opened", hypervisor=hypervisor, guest=TWIN, operator="bob")
    events = host.get("audit", auth=CAROL).json()
    assert {(e.get("hypervisor"), e.get("guest")) for e in events} == {("default", TWIN)}
    mine = host.get("audit", params={"guest": TWIN}, auth=CAROL).json()
    assert mine and {e["hypervisor"] for e in mine} == {"default"}
    asked = host.get("audit", params={"guest": TWIN, "hypervisor": "mock2"}, auth=CAROL)
    assert status(asked) == (404, NOT_FOUND)


def test_a_rule_for_no_configured_hypervisor_is_logged_and_grants_nothing(host, rules_file):
    replace_rules(rules_file, "@ops * all", "carol prdo:* all", 'carol "web:1" view')
    assert host.get("vms", auth=CAROL).json() == []
    host.wait_log("line 2: no hypervisor matches 'prdo' (hypervisors: default, mock2)")
    # a quoted colon is the guest name's: a rule for web:1 on any hypervisor
    assert "line 3: no hypervisor matches" not in host.full_log()
