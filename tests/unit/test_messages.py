"""The message catalog: each code named once in i18n.py, every name used, placeholders sound."""

from __future__ import annotations

import re
from pathlib import Path

from plugin_serialconsole import i18n
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.i18n import messages
from plugin_serialconsole.translation import english_forms

PACKAGE = Path(__file__).resolve().parents[2] / "plugin_serialconsole"
CODE = re.compile(r"SCONS\d{4}[EL]")
CODE_LITERAL = re.compile(r"[\"']SCONS\d{4}[EL][\"']")
NAME_USE = re.compile(r"\bi18n\.([A-Z][A-Z0-9_]+)\b")


def code_names() -> dict[str, str]:
    """i18n's symbolic names of message codes: name -> code."""
    return {
        name: value
        for name, value in vars(i18n).items()
        if name.isupper() and isinstance(value, str) and CODE.fullmatch(value)
    }


def sources() -> dict[Path, str]:
    return {path: path.read_text() for path in PACKAGE.rglob("*.py") if path.name != "i18n.py"}


def test_each_code_has_exactly_one_name_and_one_message():
    names = code_names()
    assert sorted(names.values()) == sorted(set(names.values())), "a code named twice"
    assert set(names.values()) == set(messages)


def test_no_module_writes_a_code_but_i18n():
    written = {path.name: CODE_LITERAL.findall(text) for path, text in sources().items()}
    assert {name: codes for name, codes in written.items() if codes} == {}


def test_every_name_used_is_defined_and_every_name_is_used():
    used = {name for text in sources().values() for name in NAME_USE.findall(text)}
    names = set(code_names())
    assert {name for name in used if name not in names and CODE.search(name) is None} <= {
        "DEFAULT_LANGUAGE",
    }
    assert names - used == set()


def test_every_reason_has_a_message():
    assert all(reason.message_code in messages for reason in Reason)


def test_codes_are_well_formed():
    assert all(re.fullmatch(r"SCONS\d{4}[EL]", code) for code in messages)


def test_placeholders_are_named_python_format():
    for code, message in messages.items():
        for text in english_forms(message):
            stripped = re.sub(r"%\([a-z_]+\)s", "", text)
            assert "%" not in stripped, code
