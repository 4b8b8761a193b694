"""Download names: safe ASCII whatever the guest is called."""

from __future__ import annotations

import re

import pytest

from plugin_serialconsole.control.http import safe_filename


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("mock-vm-serial0-20260101T000000Z", "mock-vm-serial0-20260101T000000Z.log"),
        ("mock-ünïcödé-虚拟机-serial0", "mock-_n_c_d_-_-serial0.log"),
        ('a"b\\c/d;e\r\nf', "a_b_c_d_e_f.log"),
        ("../../etc/passwd", "etc_passwd.log"),
        (".hidden", "hidden.log"),
        ("虚拟机", "console.log"),
        ("", "console.log"),
    ],
)
def test_safe_filename(stem, expected):
    assert safe_filename(stem, ".log") == expected


def test_safe_filename_is_bounded_and_plain_ascii():
    name = safe_filename("x" * 1000 + "é" * 1000, ".log")
    assert len(name) <= 104
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
