"""Guest name patterns, one syntax wherever a setting names guests (the rights file's
rules, ``capture_include``/``capture_exclude``): shell-style (``*``, ``?``, ``[...]``),
matched case-sensitively against the whole name; written as words separated by blanks
(in pattern lists also by commas), quoted with ``"`` or ``'`` when a pattern holds a
blank, a comma or ``#``. A rights rule may name the hypervisor before a bare ``:``
(``scan_words`` says where a line's words have one).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

BLANKS = " \t\r\n"  # what separates words: shlex's whitespace
QUOTES = "\"'"
ESCAPE = "\\"
COMMENT = "#"
BARE_COLON = ":"


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


@dataclass(frozen=True)
class Word:
    """A word as ``scan_words`` reads it: its text (quotes and escapes removed) and the
    index in it of its first ``:`` written bare, neither quoted nor escaped (None: none)."""

    text: str
    colon: int | None = None


def scan_words(text: str) -> list[Word]:
    """The words of ``text`` exactly as ``split_words(text, comments=True)`` reads them
    (POSIX shell quoting: ``"..."``, ``'...'``, ``\\`` escapes; ``#`` to the end of a
    line is a comment), each saying where its first bare ``:`` is. ValueError for a quote
    left open or a trailing backslash, with shlex's words."""
    words: list[Word] = []
    chars: list[str] = []
    colon: int | None = None
    in_word, quote, position = False, "", 0
    while position < len(text):
        char = text[position]
        position += 1
        if quote:
            if char == quote:
                quote = ""
            elif char == ESCAPE and quote == '"':
                if position == len(text):
                    raise ValueError("No escaped character")
                if text[position] in ('"', ESCAPE):
                    char = text[position]
                    position += 1
                chars.append(char)
            else:
                chars.append(char)
        elif char in BLANKS or char == COMMENT:
            if in_word:
                words.append(Word("".join(chars), colon))
            chars, colon, in_word = [], None, False
            if char == COMMENT:  # to the end of the line
                newline = text.find("\n", position)
                position = len(text) if newline < 0 else newline
        elif char in QUOTES:
            quote, in_word = char, True
        elif char == ESCAPE:
            if position == len(text):
                raise ValueError("No escaped character")
            chars.append(text[position])
            position, in_word = position + 1, True
        else:
            if char == BARE_COLON and colon is None:
                colon = len(chars)
            chars.append(char)
            in_word = True
    if quote:
        raise ValueError("No closing quotation")
    if in_word:
        words.append(Word("".join(chars), colon))
    return words
