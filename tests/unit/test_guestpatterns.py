"""One pattern, one meaning: the rights file and the capture settings read guest name
patterns the same way, the rights file's quotes included."""

from __future__ import annotations

import itertools

import pytest

from plugin_serialconsole.guestpatterns import scan_words, split_words
from plugin_serialconsole.model.capture_policy import CapturePolicy
from plugin_serialconsole.rights import parse_rules

NAMES = ["web 1", "web-1", "Web-1", "lab #3", "db-2", "db"]


@pytest.mark.parametrize("pattern", ['"web 1"', "web-?", "'lab #[0-9]'", "[a-z]*-2", "*", '"db"'])
def test_a_pattern_selects_the_same_guests_for_rights_and_capture(pattern):
    (rule,) = parse_rules(f"alice {pattern} view\n")
    policy = CapturePolicy.from_values("all", pattern, "", "/var/lib/x")
    by_rights = [name for name in NAMES if rule.covers("default", name)]
    by_capture = [name for name in NAMES if policy.captures(name)]
    assert by_rights == by_capture and by_rights


def _read(read, text: str) -> object:
    try:
        return read(text)
    except ValueError as error:
        return f"ValueError: {error}"


def test_words_with_their_bare_colon_are_the_words_the_other_settings_read():
    """``scan_words`` (the rights file's, which must know a quoted colon from a bare one)
    splits every line of up to four of these characters as ``split_words`` does."""
    alphabet = ["a", ":", " ", '"', "'", "\\", "#", "\t"]
    for length in range(5):
        for chars in itertools.product(alphabet, repeat=length):
            line = "".join(chars)
            scanned = _read(lambda text: [word.text for word in scan_words(text)], line)
            assert scanned == _read(lambda text: split_words(text, comments=True), line), line


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
