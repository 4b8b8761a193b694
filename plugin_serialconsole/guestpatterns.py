"""Guest name patterns, one syntax wherever a setting names guests (the rights file's
rules, ``capture_include``/``capture_exclude``): shell-style (``*``, ``?``, ``[...]``),
matched case-sensitively against the whole name; written as words separated by blanks
(in pattern lists also by commas), quoted with ``"`` or ``'`` when a pattern holds a
blank, a comma or ``#``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from fnmatch import fnmatchcase


def split_words(text: str, *, commas: bool = False, comments: bool = False) -> list[str]:
    """The words of ``text``, quotes honoured; ``commas`` separate words too, ``comments``
    (``#`` to the end of the line) are dropped. ValueError for a quote left open."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#" if comments else ""
    if commas:
        lexer.whitespace += ","
    return list(lexer)


def parse_patterns(text: str) -> tuple[str, ...]:
    """A list of patterns (``web-* "db 1", test-?``); ValueError for an open quote."""
    return tuple(word for word in split_words(text, commas=True) if word)


def matches(name: str, pattern: str) -> bool:
    return fnmatchcase(name, pattern)


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    return any(matches(name, pattern) for pattern in patterns)
