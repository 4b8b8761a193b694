"""The rights policy: its rules file, what it grants, and that a bad file never grants more."""

from __future__ import annotations

import json
import logging
import os

import pytest

from plugin_serialconsole import rights
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.rights import (
    AUDIT,
    CONSOLE,
    EVERY_RIGHT,
    POWER,
    TAKEOVER,
    VIEW,
    Access,
    Rights,
    RightsFile,
    RulesError,
    Subject,
    parse_rules,
)

RULES = """\
# who        guests        rights
alice        "web-*"       console   # a comment
@ops         *             takeover power
bob          db-?          view
*            demo          view
"""
ALICE = Subject("alice")
BOB = Subject("bob")
OPS_CAROL = Subject("carol", frozenset({"ops"}))
HV = "default"


@pytest.fixture
def rules_path(tmp_path):
    path = tmp_path / "rights"
    path.write_text(RULES)
    return path


@pytest.fixture
def policy(rules_path):
    return Rights.from_path(rules_path)


def rewrite(path, text: str | bytes) -> None:
    """Write ``text`` so the change shows in the file's stamp whatever the clock's grain."""
    stamp = path.stat().st_mtime_ns
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))


def test_no_rights_file_grants_every_right():
    assert Rights.from_path("").of(Subject("anyone"), HV, "any-guest") == EVERY_RIGHT


def test_rules_grant_exactly_what_they_name_and_every_right_includes_view(policy):
    assert policy.of(ALICE, HV, "web-1") == {VIEW, CONSOLE}
    assert policy.of(BOB, HV, "db-1") == {VIEW}
    assert policy.of(OPS_CAROL, HV, "db-1") == {VIEW, CONSOLE, TAKEOVER, POWER}


def test_what_no_rule_grants_is_denied(policy):
    assert policy.of(ALICE, HV, "db-1") == frozenset()
    assert policy.of(BOB, HV, "db-12") == frozenset()  # ? is one character
    assert policy.of(Subject("carol"), HV, "web-1") == frozenset()  # not in @ops
    assert not policy.allows(ALICE, HV, "web-1", TAKEOVER)


def test_rules_that_match_add_up(policy):
    assert policy.of(ALICE, HV, "demo") == {VIEW}
    assert policy.of(Subject("alice", frozenset({"ops"})), HV, "web-1") == {
        VIEW, CONSOLE, TAKEOVER, POWER,
    }  # fmt: skip


def test_a_rule_naming_a_hypervisor_grants_on_the_guests_of_that_hypervisor_only(tmp_path):
    path = tmp_path / "rights"
    path.write_text("alice prod:web-* console\nalice web-1 view\n@lab lab:* all\n")
    policy = Rights.from_path(path, ["prod", "lab"])
    assert policy.of(ALICE, "prod", "web-1") == {VIEW, CONSOLE}
    assert policy.of(ALICE, "lab", "web-1") == {VIEW}  # a copy elsewhere: its own rights
    assert policy.of(ALICE, "lab", "web-2") == frozenset()
    lab_bob = Subject("bob", frozenset({"lab"}))
    assert policy.of(lab_bob, "lab", "anything") == EVERY_RIGHT
    assert policy.of(lab_bob, "prod", "anything") == frozenset()
    with pytest.raises(SerialConsoleError) as denied:
        policy.require(Identity("alice"), "lab", "web-1", CONSOLE)
    assert (denied.value.status, denied.value.code) == (403, "SCONS0055E")


def test_every_guest_of_one_hypervisor_is_not_every_guest(tmp_path):
    path = tmp_path / "rights"
    path.write_text("alice lab:* audit\nbob * view\n")
    policy = Rights.from_path(path)
    assert policy.everywhere(ALICE, AUDIT, "lab")
    assert not policy.everywhere(ALICE, AUDIT, "prod")
    assert not policy.everywhere(ALICE, AUDIT)  # logins and the like: every hypervisor's
    assert policy.everywhere(BOB, VIEW) and policy.everywhere(BOB, VIEW, "prod")


def test_a_subject_with_all_rights_needs_no_rule(policy):
    assert policy.of(Subject("operator", all_rights=True), HV, "anything") == EVERY_RIGHT


def test_all_means_every_right():
    (rule,) = parse_rules("admin * all\n")
    assert rule.rights == EVERY_RIGHT


def test_patterns_are_case_sensitive_and_quoted_names_may_hold_spaces():
    (rule,) = parse_rules('alice "my guest #1" view\n')
    assert rule.covers(HV, "my guest #1")
    (rule,) = parse_rules("alice Web-* view\n")
    assert not rule.covers(HV, "web-1")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("alice web-* write\n", "line 1: unknown right 'write'"),
        ("# ok\nalice web-*\n", "line 2: expected"),
        ('alice "web-* view\n', "line 1: No closing quotation"),
        ("@ * view\n", "line 1: empty"),
    ],
)
def test_a_bad_line_is_refused_with_its_number(text, why):
    with pytest.raises(RulesError, match=why):
        parse_rules(text)


def test_a_rights_file_that_cannot_be_used_is_refused_at_start(tmp_path):
    path = tmp_path / "rights"
    with pytest.raises(RulesError):
        Rights.from_path(path)  # missing
    path.write_text("alice * sudo\n")
    with pytest.raises(RulesError):
        Rights.from_path(path)
    path.write_text("alice * view\n")
    path.chmod(0o646)
    with pytest.raises(RulesError, match="writable by its group or others"):
        Rights.from_path(path)
    path.chmod(0o664)  # a member of the file's group could grant themselves everything
    with pytest.raises(RulesError, match="writable by its group or others"):
        Rights.from_path(path)
    path.chmod(0o644)
    assert Rights.from_path(path).enforced


def test_a_changed_file_is_read_again(policy, rules_path):
    assert not policy.allows(BOB, HV, "web-1", VIEW)
    rewrite(rules_path, RULES + "bob web-* console\n")
    assert policy.allows(BOB, HV, "web-1", CONSOLE)
    rewrite(rules_path, "bob db-? view\n")
    assert not policy.allows(ALICE, HV, "web-1", VIEW)


@pytest.mark.parametrize(
    "breakage",
    ["a bad line", "removed", "world-writable", "not UTF-8"],
)
def test_a_broken_change_keeps_the_rules_read_last(policy, rules_path, caplog, breakage):
    if breakage == "a bad line":
        rewrite(rules_path, "* * all\nalice\n")  # would grant everyone everything
    elif breakage == "removed":
        rules_path.unlink()
    elif breakage == "world-writable":
        rewrite(rules_path, "* * all\n")
        rules_path.chmod(0o666)
    else:
        rewrite(rules_path, b"* * all\n# \xff\n")
    with caplog.at_level(logging.ERROR, logger="plugin_serialconsole.rights_file"):
        assert policy.of(BOB, HV, "web-1") == frozenset()
        assert policy.of(ALICE, HV, "web-1") == {VIEW, CONSOLE}
    (reported,) = caplog.records  # once per version of the file, not on every check
    assert "the rules read before stay" in reported.getMessage()


def test_a_file_unusable_from_the_first_read_grants_nothing(tmp_path, caplog):
    path = tmp_path / "rights"
    path.write_text("* * all\nbroken\n")
    policy = Rights(RightsFile(path))  # the proxy's way: read when a token is used
    with caplog.at_level(logging.ERROR, logger="plugin_serialconsole.rights_file"):
        assert policy.of(ALICE, HV, "web-1") == frozenset()
    assert "nothing is granted" in caplog.text


def test_require_answers_404_without_view_and_403_without_the_right(policy, caplog):
    alice = Identity("alice")
    policy.require(alice, HV, "web-1", CONSOLE)
    with pytest.raises(SerialConsoleError) as denied:
        policy.require(alice, HV, "web-1", TAKEOVER)
    assert (denied.value.status, denied.value.code) == (403, "SCONS0055E")
    assert "alice" in denied.value.reason() and "takeover" in denied.value.reason()
    with pytest.raises(SerialConsoleError) as hidden:
        policy.require(alice, HV, "db-1", VIEW, asked_as="0f3c…")
    assert (hidden.value.status, hidden.value.code) == (404, "SCONS0001E")
    assert hidden.value.params == {"guest": "0f3c…"}
    assert "operator alice denied takeover on guest web-1 (hypervisor default)" in caplog.text


def test_identity_groups_and_all_rights_reach_the_policy(policy):
    policy.require(Identity("carol", groups=frozenset({"ops"})), HV, "db-1", POWER)
    policy.require(Identity("operator", all_rights=True), HV, "db-1", POWER)


def test_access_survives_json_and_garbage_is_none():
    access = Access(OPS_CAROL, HV, "web-1", CONSOLE)
    assert Access.from_json(access.as_json()) == access
    for garbage in (
        None,
        [],
        {},
        {**access.as_json(), "groups": [1]},
        {**access.as_json(), "groups": "ops"},
        {"user": "x"},
        {k: v for k, v in access.as_json().items() if k != "hypervisor"},  # of no hypervisor
    ):
        assert Access.from_json(garbage) is None


def test_a_client_needs_console_to_write_and_view_to_watch():
    assert Access.of_client(Identity("alice"), HV, "g", "write").right == CONSOLE
    assert Access.of_client(Identity("alice"), HV, "g", "view").right == VIEW
    assert Access.of_client(None, HV, "g", "write") is None


def test_rights_are_listed_in_their_documented_order():
    assert rights.ordered(frozenset({POWER, VIEW, CONSOLE})) == [VIEW, CONSOLE, POWER]


def test_a_token_carries_only_the_groups_the_rules_name(policy):
    many = frozenset(f"directory-group-{n}" for n in range(2000)) | {"ops"}
    narrowed = policy.narrowed(Identity("bob", groups=many))
    assert narrowed.groups == {"ops"} and narrowed.user == "bob"
    record = Access.of_client(narrowed, HV, "web-1", "write").as_json()
    assert len(json.dumps(record)) < 1000  # fits a token record whatever the directory says
    assert Rights().narrowed(Identity("bob", groups=many)).groups == frozenset()
