"""The message catalog: every code used, every used code defined, placeholders sound."""

from __future__ import annotations

import re
from pathlib import Path

from plugin_serialconsole.i18n import messages

PACKAGE = Path(__file__).resolve().parents[2] / "plugin_serialconsole"
CODE = re.compile(r"SCONS\d{4}[EL]")


def source_codes() -> set[str]:
    codes = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name != "i18n.py":
            codes |= set(CODE.findall(path.read_text()))
    return codes


def test_every_code_used_in_the_code_is_defined():
    assert source_codes() - set(messages) == set()


def test_no_code_is_left_unused():
    # SCONS0110L/0111L are logged through i18n.translate by code; all are referenced.
    assert set(messages) - source_codes() == set()


def test_codes_are_well_formed():
    assert all(re.fullmatch(r"SCONS\d{4}[EL]", code) for code in messages)


def test_placeholders_are_named_python_format():
    for code, text in messages.items():
        stripped = re.sub(r"%\([a-z_]+\)s", "", text)
        assert "%" not in stripped, code
