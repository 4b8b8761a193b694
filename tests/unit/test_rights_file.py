"""Rules that name a hypervisor (``hypervisor:guests``): how the rights file reads them,
what they match, and a rule for no configured hypervisor reported, never granting."""

from __future__ import annotations

import logging
import os

import pytest

from plugin_serialconsole.rights_file import (
    EVERYONE,
    RightsFile,
    RulesError,
    parse_rules,
)

LOGGER = "plugin_serialconsole.rights_file"


def target(guests: str) -> tuple[str, str]:
    (rule,) = parse_rules(f"alice {guests} view\n")
    return rule.target.hypervisors, rule.target.guests


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("web-*", (EVERYONE, "web-*")),  # no hypervisor: every one, as before
        ("prod:web-*", ("prod", "web-*")),
        ("lab:*", ("lab", "*")),
        ("*:db", ("*", "db")),
        ("hv?:db-[0-9]", ("hv?", "db-[0-9]")),
        ("PROD:Web", ("prod", "Web")),  # hypervisor names are lower case in the config
        ("prod:web:1", ("prod", "web:1")),  # the first bare colon separates
        ('"web:1"', (EVERYONE, "web:1")),  # a quoted colon is the guest name's
        ("web\\:1", (EVERYONE, "web:1")),  # so is an escaped one
        ('prod:"my guest #1"', ("prod", "my guest #1")),
        ("'lab':'x:y'", ("lab", "x:y")),
    ],
)
def test_a_guest_pattern_may_name_the_hypervisor_before_a_bare_colon(written, read):
    assert target(written) == read


def test_a_rule_covers_its_hypervisors_guests_only():
    (named, anywhere) = parse_rules("alice prod:web-* view\nalice db view\n")
    assert named.covers("prod", "web-1")
    assert not named.covers("lab", "web-1")  # the same name elsewhere
    assert not named.covers("prod", "db")
    assert anywhere.covers("prod", "db") and anywhere.covers("lab", "db")


def test_every_guest_means_a_star_for_guests_on_the_hypervisors_it_matches():
    prod, anywhere, some = parse_rules("a prod:* view\na * view\na prod:web-* view\n")
    assert prod.covers_every_guest("prod") and not prod.covers_every_guest("lab")
    assert not prod.covers_every_guest(None)  # not those of the other hypervisors
    assert anywhere.covers_every_guest(None) and anywhere.covers_every_guest("lab")
    assert not some.covers_every_guest("prod")


@pytest.mark.parametrize(
    ("guests", "why"),
    [
        (":web", "a hypervisor and a guest pattern around ':'"),
        ("prod:", "a hypervisor and a guest pattern around ':'"),
        ('"prod hv":web', "cannot match a hypervisor name"),
        ("pr/od:web", "cannot match a hypervisor name"),
        ("prod\\ hv:web", "cannot match a hypervisor name"),
    ],
)
def test_a_hypervisor_pattern_that_can_match_nothing_is_a_bad_line(guests, why):
    with pytest.raises(RulesError, match=f"line 2: .*{why}") as refused:
        parse_rules(f"# ok\nalice {guests} view\n")
    assert "quoted" in str(refused.value)  # says how to write a guest name with a colon


def write(path, text: str) -> None:
    """Write ``text`` so the change shows in the file's stamp whatever the clock's grain."""
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    path.chmod(0o600)
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))


def test_a_rule_for_no_configured_hypervisor_is_logged_each_time_the_file_is_read(tmp_path, caplog):
    path = tmp_path / "rights"
    write(path, "alice prdo:* all\nbob prod*:db view\ncarol *:x view\ndave web-1 view\n")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rules = RightsFile(path, ["prod", "lab"]).load()
    (warned,) = caplog.records
    message = warned.getMessage()
    assert "line 1: no hypervisor matches 'prdo' (hypervisors: lab, prod)" in message
    assert "the rule grants nothing" in message and '"prdo:*"' in message
    assert len(rules.rules()) == 4  # kept: a hypervisor of that name may be configured
    caplog.clear()
    write(path, "alice web:1 view\n")  # an unquoted colon names a hypervisor
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rules.rules()
    assert "line 1: no hypervisor matches 'web'" in caplog.text and '"web:1"' in caplog.text


def test_without_the_hosts_hypervisors_nothing_is_reported(tmp_path, caplog):
    """The WebSocket proxy reads the file too: the host alone reports."""
    path = tmp_path / "rights"
    write(path, "alice prdo:* all\n")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        RightsFile(path).load()
    assert caplog.records == []
