"""One pattern, one meaning: the rights file and the capture settings read guest name
patterns the same way, the rights file's quotes included."""

from __future__ import annotations

import itertools
import shlex

import pytest

from plugin_serialconsole.guestpatterns import scan_words
from plugin_serialconsole.model.capture_policy import CapturePolicy
from plugin_serialconsole.rights import parse_rules

NAMES = ["web 1", "web-1", "Web-1", "lab #3", "db-2", "db"]


@pytest.mark.parametrize("pattern", ['"web 1"', "web-?", "'lab #[0-9]'", "[a-z]*-2", "*", '"db"'])
def test_a_pattern_selects_the_same_guests_for_rights_and_capture(pattern):
    (rule,) = parse_rules(f"alice {pattern} view\n")
    policy = CapturePolicy.from_values("all", pattern, "", "/var/lib/x")
    by_rights = [name for name in NAMES if rule.covers("default", name)]
    by_capture = [name for name in NAMES if policy.captures("default", name)]
    assert by_rights == by_capture and by_rights


HYPERVISORS = ["default", "prod", "lab"]
GUESTS = ["web:1", "web-1", "1", "db-2"]


@pytest.mark.parametrize(
    "pattern",
    ["prod:*", "*:db-?", "web-1", "prod:web:1", '"web:1"', "web\\:1", "PROD:web-*", "pr*:1"],
)
def test_a_pattern_naming_a_hypervisor_selects_the_same_guests_for_rights_and_capture(pattern):
    (rule,) = parse_rules(f"alice {pattern} view\n")
    policy = CapturePolicy.from_values("all", pattern, "", "/var/lib/x")
    pairs = list(itertools.product(HYPERVISORS, GUESTS))
    by_rights = [pair for pair in pairs if rule.covers(*pair)]
    assert by_rights == [pair for pair in pairs if policy.captures(*pair)] and by_rights


def split_words(text: str, *, commas: bool = False, comments: bool = False) -> list[str]:
    """The words POSIX shell quoting gives: what ``scan_words`` must read."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#" if comments else ""
    if commas:
        lexer.whitespace += ","
    return list(lexer)


def _read(read, text: str) -> object:
    try:
        return read(text)
    except ValueError as error:
        return f"ValueError: {error}"


@pytest.mark.parametrize("options", [{"comments": True}, {"commas": True}])
def test_words_with_their_bare_colon_are_the_words_the_other_settings_read(options):
    """``scan_words`` (which must know a quoted colon from a bare one) splits every line
    of up to four of these characters as ``split_words`` does: as the rights file reads
    it (comments) and as a pattern list (commas)."""
    alphabet = ["a", ":", " ", '"', "'", "\\", "#", "\t", ","]
    for length in range(5):
        for chars in itertools.product(alphabet, repeat=length):
            line = "".join(chars)
            scanned = _read(lambda text: [w.text for w in scan_words(text, **options)], line)
            assert scanned == _read(lambda text: split_words(text, **options), line), line


@pytest.mark.parametrize(
    ("line", "colons"),
    [
        ("prod:web", [4]),
        ('"web:1" prod:"web:1"', [None, 4]),
        ("web\\:1 'a:b':c", [None, 3]),
        ("a::b", [1]),
        ("web-1", [None]),
    ],
)
def test_a_word_says_where_its_first_bare_colon_is(line, colons):
    assert [word.colon for word in scan_words(line)] == colons
