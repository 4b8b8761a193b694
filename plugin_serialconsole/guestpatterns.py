"""Guest patterns, one syntax wherever a setting names guests (the rights file's
rules, ``capture_include``/``capture_exclude``): shell-style (``*``, ``?``, ``[...]``),
matched case-sensitively against the whole name; written as words separated by blanks
(in pattern lists also by commas), quoted with ``"`` or ``'`` when a pattern holds a
blank, a comma or ``#``. A pattern may name the hypervisor, ``hypervisor:guest`` (both
patterns; ``prod:*``, ``*:db-*``); without one it is about the guests of that name on
every hypervisor. The first ``:`` written bare (neither quoted nor escaped) separates
them: hypervisor names never hold one, so ``prod:web:1`` is guest ``web:1`` on ``prod``,
and a guest name holding a ``:`` on any hypervisor is quoted, ``"web:1"``. Hypervisor
patterns are matched in lower case, as the configuration spells the names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

BLANKS = " \t\r\n"  # what separates words: shlex's whitespace
QUOTES = "\"'"
ESCAPE = "\\"
COMMENT = "#"
COMMA = ","
BARE_COLON = ":"
ANY = "*"  # as a hypervisor pattern: every hypervisor, those to come included
# What a hypervisor pattern may hold: a name's characters (``hypervisor_uris.check_name``)
# and the pattern's own.
_HYPERVISOR_PATTERN = re.compile(r"[a-z0-9_.*?\[\]!-]+")


def matches(name: str, pattern: str) -> bool:
    return fnmatchcase(name, pattern)


@dataclass(frozen=True)
class GuestPattern:
    """A pattern on a guest's name and one on its hypervisor's (``*``: any)."""

    hypervisors: str
    guests: str

    def covers(self, hypervisor: str, guest: str) -> bool:
        """Whether the pattern is about the guest named ``guest`` on ``hypervisor``."""
        return matches(hypervisor, self.hypervisors) and matches(guest, self.guests)

    def names_any(self, hypervisors: Iterable[str]) -> bool:
        """Whether its hypervisor pattern matches one of ``hypervisors``."""
        return any(matches(name, self.hypervisors) for name in hypervisors)

    def __str__(self) -> str:
        return f"{self.hypervisors}:{self.guests}"


@dataclass(frozen=True)
class Word:
    """A word as ``scan_words`` reads it: its text (quotes and escapes removed) and the
    index in it of its first ``:`` written bare, neither quoted nor escaped (None: none)."""

    text: str
    colon: int | None = None


def scan_words(text: str, *, commas: bool = False, comments: bool = False) -> list[Word]:
    """The words of ``text`` as POSIX ``shlex`` splits them (quoting ``"..."``, ``'...'``,
    ``\\`` escapes; ``commas`` separate words too, ``comments``, ``#`` to the end of the
    line, are dropped), each saying where its first bare ``:`` is. ValueError for a quote
    left open or a trailing backslash, with shlex's words."""
    separators = BLANKS + COMMA if commas else BLANKS
    comment = COMMENT if comments else ""
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
        elif char in separators or char == comment:
            if in_word:
                words.append(Word("".join(chars), colon))
            chars, colon, in_word = [], None, False
            if char == comment:  # to the end of the line
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


def guest_pattern(word: Word) -> GuestPattern:
    """The pattern a word writes (``[hypervisor:]guest``); ValueError if either side of
    its bare ``:`` is empty or the hypervisor pattern can match no hypervisor name."""
    if word.colon is None:
        return GuestPattern(ANY, word.text)
    hypervisors, guests = word.text[: word.colon].lower(), word.text[word.colon + 1 :]
    if not hypervisors or not guests:
        raise ValueError(
            f"{word.text!r}: a hypervisor and a guest pattern around ':' "
            f"(every hypervisor: *:guest; every guest: hypervisor:*; "
            f'a guest name holding a colon is quoted: "{word.text}")'
        )
    if not _HYPERVISOR_PATTERN.fullmatch(hypervisors):
        raise ValueError(
            f"{word.text!r}: {hypervisors!r} cannot match a hypervisor name (letters, "
            f"digits, '.', '_', '-'); a guest name holding a colon is quoted: "
            f'"{word.text}"'
        )
    return GuestPattern(hypervisors, guests)


def parse_patterns(text: str) -> tuple[GuestPattern, ...]:
    """A list of patterns (``web-* "db 1", prod:test-?``); ValueError for an open quote
    or a pattern ``guest_pattern`` refuses."""
    return tuple(guest_pattern(word) for word in scan_words(text, commas=True) if word.text)


def covers_any(patterns: Iterable[GuestPattern], hypervisor: str, guest: str) -> bool:
    return any(pattern.covers(hypervisor, guest) for pattern in patterns)
