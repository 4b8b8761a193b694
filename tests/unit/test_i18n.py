"""Message catalogue, language negotiation and translation."""

from __future__ import annotations

import re
import string

import pytest

from plugin_serialconsole import i18n
from plugin_serialconsole.i18n import messages, translate
from plugin_serialconsole.languages import negotiate, normalize_language
from plugin_serialconsole.translation import Plural, english_forms

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr", "fr"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr_CH"),
        ("de;q=0.5, fr;q=0.9, en;q=0.1", "fr"),
        ("en;q=0.2, pt-br", "pt_BR"),
        ("de; q=0.5, it; q=0.6", "it"),
        ("es;q=0, fr;q=0.1", "fr"),
        ("ja;q=1.0, ko;q=1.0", "ja"),
        ("zh-Hant-TW", "zh_HANT_TW"),
    ],
)
def test_negotiate_picks_highest_quality(header, expected):
    assert negotiate(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "*",
        "???",
        "en;q=abc, ;;;",
        "fr;q=0",
        "../../etc/passwd",
        "de'; DROP TABLE",
        "x" * 9,
        ", , ,",
    ],
)
def test_negotiate_garbage_falls_back_to_english(header):
    assert negotiate(header) == "en"


def test_negotiate_skips_entries_with_bad_quality():
    assert negotiate("fr;q=abc, de;q=0.3") == "de"


def test_lang_override_wins_over_accept_language():
    assert negotiate("fr, de;q=0.5", override="pt-br") == "pt_BR"


@pytest.mark.parametrize("override", [None, "", "../fr", "fr/../../x", "$$", "e" * 9])
def test_bad_lang_override_is_ignored(override):
    assert negotiate("de;q=0.9, fr;q=0.5", override=override) == "de"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("pt-BR", "pt_BR"), ("PT_br", "pt_BR"), (" en ", "en"), ("x/y", None), ("", None)],
)
def test_normalize_language(tag, expected):
    assert normalize_language(tag) == expected


def test_translate_fills_params():
    text = translate("SCONS0002E", {"guest": "vm1", "state": "shut off"})
    assert text == "Guest vm1 is not running (state: shut off)."


def test_translate_without_params():
    assert translate("SCONS0102L") == "Disconnected (Ctrl+Q)."


def test_translate_untranslated_language_falls_back_to_english():
    text = translate("SCONS0001E", {"guest": "vm1"}, language="xx_YY")
    assert text == "Guest vm1 does not exist."


def test_translate_does_not_interpret_formatting_in_params():
    text = translate("SCONS0001E", {"guest": "%(guest)s %s"})
    assert text == "Guest %(guest)s %s does not exist."


def test_message_codes_follow_the_scheme():
    assert messages
    for code in messages:
        assert re.fullmatch(r"SCONS\d{4}[EL]", code), code


@pytest.mark.parametrize("code", sorted(messages))
def test_message_placeholders_parse(code):
    singular, *plural = english_forms(messages[code])
    names = PLACEHOLDER.findall(singular)
    for text in (singular, *plural):
        # Only %(name)s placeholders: removing them leaves no other % directive.
        assert "%" not in PLACEHOLDER.sub("", text), text
        assert sorted(PLACEHOLDER.findall(text)) == sorted(names), text
    for name in names:
        assert name.isidentifier()
    params = {name: f"<{name}>" for name in names}
    rendered = (plural or [singular])[0] % params  # "<seconds>" is not 1: the plural
    assert all(f"<{name}>" in rendered for name in names)
    assert translate(code, params) == rendered


@pytest.mark.parametrize("code", sorted(messages))
def test_messages_are_single_lines(code):
    for text in english_forms(messages[code]):
        assert text.strip() == text and text
        assert not any(ch in string.whitespace and ch != " " for ch in text)


@pytest.mark.parametrize("code", sorted(c for c, m in messages.items() if isinstance(m, Plural)))
def test_plural_message_counts_a_parameter_it_shows(code):
    message = messages[code]
    assert f"%({message.count})s" in message.singular
    assert f"%({message.count})s" in message.plural


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1, "Try again in 1 second."),
        ("1", "Try again in 1 second."),
        (0, "Try again in 0 seconds."),
        (2, "Try again in 2 seconds."),
        ("0.5", "Try again in 0.5 seconds."),
        ("1.5", "Try again in 1.5 seconds."),
        ("-1", "Try again in -1 seconds."),
        ("many", "Try again in many seconds."),
    ],
)
def test_english_counts_one_and_many(seconds, expected):
    text = translate(i18n.TOO_MANY_FAILED_LOGINS, {"seconds": seconds})
    assert text == "Too many failed logins. " + expected


def test_a_plural_message_without_its_count_still_reads():
    assert translate(i18n.IDLE_TIMEOUT) == "No activity for ? seconds; console closed."


def test_default_language_is_english():
    assert i18n.DEFAULT_LANGUAGE == "en"
