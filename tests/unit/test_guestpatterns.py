"""One pattern, one meaning: the rights file and the capture settings read guest name
patterns the same way."""

from __future__ import annotations

import pytest

from plugin_serialconsole.model.capture_policy import CapturePolicy
from plugin_serialconsole.rights import parse_rules

NAMES = ["web 1", "web-1", "Web-1", "lab #3", "db-2", "db"]


@pytest.mark.parametrize("pattern", ['"web 1"', "web-?", "'lab #[0-9]'", "[a-z]*-2", "*", '"db"'])
def test_a_pattern_selects_the_same_guests_for_rights_and_capture(pattern):
    (rule,) = parse_rules(f"alice {pattern} view\n")
    policy = CapturePolicy.from_values("all", pattern, "", "/var/lib/x")
    by_rights = [name for name in NAMES if rule.covers(name)]
    by_capture = [name for name in NAMES if policy.captures(name)]
    assert by_rights == by_capture and by_rights
