"""Rights (issue 17): who may view, write, take over on which guest, checked on every REST
call and again when a console token is used; the rules file is re-read without a restart."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import (
    OPERATOR_PASSWORD,
    PROMPT,
    Host,
    expect_refused,
    idle_between_tests,
    run_refused_host,
    shared_host,
    write_users_file,
)

ALICE = ("alice", OPERATOR_PASSWORD)  # view only, on every mock guest
BOB = ("bob", OPERATOR_PASSWORD)  # group ops: every right
CAROL = ("carol", OPERATOR_PASSWORD)  # no rule names her
DAVE = ("dave", OPERATOR_PASSWORD)  # writes on mock-vm, may not take over
RULES = """\
# who     guests    rights
alice     mock-*    view
@ops      *         all
dave      mock-vm   console
"""
DENIED = "SCONS0055E"
NOT_FOUND = "SCONS0001E"


def replace_rules(path: Path, text: str) -> None:
    """A new rights file in place of the old one, as an editor saving it would."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    os.replace(temporary, path)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rights") / "rights"
    path.write_text(RULES)
    return path


@pytest.fixture(scope="module")
def rights_host(tmp_path_factory, rules_file) -> Iterator[Host]:
    users = tmp_path_factory.mktemp("users") / "users"
    write_users_file(users, "alice", "bob", "carol", "dave", groups={"bob": "ops,staff"})
    options = ("--auth", "users", "--users-file", str(users), "--rights-file", str(rules_file))
    for host in shared_host(*options):
        host.auth = BOB  # who looks on and cleans up
        yield host


@pytest.fixture
def host(rights_host: Host, rules_file: Path) -> Iterator[Host]:
    yield from idle_between_tests(rights_host)
    replace_rules(rules_file, RULES)


def denied(response, code: str = DENIED, status: int = 403) -> str:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    return response.json()["reason"]


def test_a_viewer_only_operator_watches_and_reads_but_may_not_write_or_take_over(host, connect):
    guests = host.get("vms", auth=ALICE).json()
    assert {g["name"]: g["rights"] for g in guests}["mock-vm"] == ["view"]
    every = ["view", "console", "takeover", "power", "audit"]
    assert host.get("vms/mock-vm").json()["rights"] == every  # bob, by his group ops
    writer = connect(host.open()["ws_url"])  # bob's
    writer.banner()
    opened = host.post("vms/mock-vm/serial", json={"mode": "view"}, auth=ALICE)
    assert opened.status_code == 201, opened.text
    viewer = connect(opened.json()["ws_url"])
    viewer.banner()
    host.wait_viewer_states(["connected"])
    viewer.send("echo pwned\r")  # a viewer's token opens a viewer: this goes nowhere
    writer.send("echo shared\r")
    assert viewer.read_until(PROMPT) == b"echo shared\r\nshared\r\n# "
    assert writer.read_until(PROMPT) == b"echo shared\r\nshared\r\n# "
    transcript = host.get("vms/mock-vm/serial/transcript", auth=ALICE)
    assert transcript.status_code == 200 and b"shared" in transcript.content
    assert b"pwned" not in transcript.content
    assert host.get("vms/mock-vm/serial", auth=ALICE).status_code == 200

    reason = denied(
        host.post("vms/mock-vm/serial", json={}, auth=ALICE, headers={"Accept-Language": "de"})
    )
    assert reason == "Der Operator alice hat nicht das Recht console auf dem Gast mock-vm."
    denied(host.post("vms/mock-vm/serial", json={"force": True}, auth=ALICE))
    denied(host.delete("vms/mock-vm/serial", auth=ALICE))
    host.wait_log("operator alice denied console on guest mock-vm")
    host.wait_log("operator alice denied takeover on guest mock-vm")
    assert host.session_of()["state"] == "connected"  # bob's console went on


def test_writing_needs_console_and_forcing_needs_takeover(host, connect):
    writer = connect(host.open()["ws_url"])  # bob's
    writer.banner()
    assert {g["name"]: g["rights"] for g in host.get("vms", auth=DAVE).json()} == {
        "mock-vm": ["view", "console"]
    }
    forced = host.post("vms/mock-vm/serial", json={"force": True}, auth=DAVE)
    assert "takeover" in denied(forced)
    assert host.post("vms/mock-vm/serial", json={}, auth=DAVE).status_code == 409  # in use
    denied(host.post("vms/mock-dual/serial", json={}, auth=DAVE), NOT_FOUND, 404)


def test_an_operator_without_view_sees_no_guest_and_gets_404_as_for_none(host, connect):
    connect(host.open()["ws_url"]).banner()  # bob's session, not hers to see
    uuid = host.get("vms/mock-vm").json()["uuid"]
    assert host.get("vms", auth=CAROL).json() == []
    assert host.get("sessions", auth=CAROL).json() == []
    assert len(host.get("sessions").json()) == 1
    unknown = host.get("vms/no-such-guest", auth=CAROL)
    for path in (
        "vms/mock-vm",
        f"vms/{uuid}",
        "vms/mock-vm/serial",
        "vms/mock-vm/serial/transcript",
    ):
        hidden = host.get(path, auth=CAROL)
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["code"] == unknown.json()["code"] == NOT_FOUND
    denied(host.post("vms/mock-vm/serial", json={"mode": "view"}, auth=CAROL), NOT_FOUND, 404)
    denied(host.delete("vms/mock-vm/serial", auth=CAROL), NOT_FOUND, 404)


def test_hypervisor_guest_counts_are_of_the_guests_one_may_view(host):
    everything = len(host.get("vms").json())  # bob's: every guest; this also lists them
    assert [h["guests"] for h in host.get("hypervisors").json()] == [everything]
    assert [h["guests"] for h in host.get("hypervisors", auth=CAROL).json()] == [0]
    mock = [g for g in host.get("vms").json() if g["name"].startswith("mock-")]
    assert [h["guests"] for h in host.get("hypervisors", auth=ALICE).json()] == [len(mock)]


def test_a_rules_change_takes_effect_without_restart(host, rules_file):
    assert host.get("vms/mock-vm", auth=CAROL).status_code == 404
    replace_rules(rules_file, RULES + "carol mock-vm console\n")
    shown = host.get("vms/mock-vm", auth=CAROL)
    assert (shown.status_code, shown.json()["rights"]) == (200, ["view", "console"])
    assert [g["name"] for g in host.get("vms", auth=CAROL).json()] == ["mock-vm"]
    replace_rules(rules_file, RULES.replace("alice     mock-*    view\n", ""))
    assert host.get("vms", auth=ALICE).json() == []


def test_a_broken_rules_file_keeps_the_rules_read_last(host, rules_file):
    assert host.get("vms/mock-vm", auth=ALICE).json()["rights"] == ["view"]  # read now
    replace_rules(rules_file, "* * all\ncarol mock-vm sudo\n")  # would give everyone all
    assert host.get("vms", auth=CAROL).json() == []
    assert host.get("vms/mock-vm", auth=ALICE).json()["rights"] == ["view"]
    host.wait_log("unknown right 'sudo'")


def test_a_token_issued_before_its_right_was_removed_no_longer_opens(host, rules_file):
    writer = host.post("vms/mock-vm/serial", json={}, auth=DAVE)
    assert writer.status_code == 201, writer.text
    viewer = host.post("vms/mock-dual/serial", json={"mode": "view"}, auth=ALICE)
    assert viewer.status_code == 201, viewer.text
    replace_rules(rules_file, "@ops * all\ndave mock-vm view\n")
    expect_refused(writer.json()["ws_url"])
    expect_refused(viewer.json()["ws_url"])
    host.wait_log("refused the console token of operator dave: no console right on guest mock-vm")


@pytest.mark.parametrize(
    ("text", "why"),
    [(None, "No such file"), ("alice * sudo\n", "line 1: unknown right 'sudo'")],
)
def test_a_rights_file_that_cannot_be_used_stops_the_host_at_start(tmp_path, text, why):
    rules = tmp_path / "rights"
    if text is not None:
        rules.write_text(text)
    run_dir = Path(tempfile.mkdtemp(prefix="sc", dir="/tmp"))
    try:
        result = run_refused_host(run_dir, "--rights-file", str(rules))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    assert result.returncode == 2, result.stderr
    assert why in result.stderr


def test_sending_needs_power_and_a_control_key_needs_console(host, connect):
    sysrq = {"action": "sysrq", "key": "h"}
    denied(host.post("vms/mock-vm/send", json=sysrq, auth=DAVE))  # console, not power
    denied(host.post("vms/mock-vm/send", json=sysrq, auth=ALICE))
    assert host.get("vms/mock-vm/send", auth=DAVE).json()["actions"] == ["control"]
    assert host.get("vms/mock-vm/send", auth=ALICE).json()["actions"] == []
    denied(host.post("vms/mock-vm/send", json=sysrq, auth=CAROL), NOT_FOUND, 404)
    opened = host.post("vms/mock-vm/serial", json={}, auth=DAVE)
    console = connect(opened.json()["ws_url"])
    console.banner()
    control = {"action": "control", "key": "U"}
    denied(host.post("vms/mock-vm/send", json=control, auth=ALICE))
    assert host.post("vms/mock-vm/send", json=control, auth=DAVE).status_code == 200
    # Typing goes through the writer's seat: even an operator with every right must take
    # the console over before typing into dave's shell.
    denied(host.post("vms/mock-vm/send", json=control, auth=BOB), "SCONS0064E", 409)
    sent = host.post("vms/mock-vm/send", json=sysrq, auth=BOB)
    assert sent.status_code == 200, sent.text
    console.read_until(b"sysrq: HELP")
