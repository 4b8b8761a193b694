"""Console ids and the socket directory length check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plugin_serialconsole.ids import (
    ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SOCKET_PATH,
    check_socket_dir,
    console_id,
    invitation_name,
    is_socket_name,
)

UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


def test_console_id_is_deterministic():
    assert console_id(UUID, "serial0", "default") == console_id(UUID, "serial0", "default")


def test_console_id_is_24_lowercase_hex():
    assert ID_LENGTH == 24
    assert re.fullmatch(r"[0-9a-f]{24}", console_id(UUID, "serial0", "default"))


def test_console_id_differs_per_uuid():
    other = "6695eb01-f6a4-8304-79aa-97f2502e1940"
    assert console_id(UUID, "serial0", "default") != console_id(other, "serial0", "default")


def test_console_id_differs_per_alias():
    assert console_id(UUID, "serial0", "default") != console_id(UUID, "serial1", "default")
    assert console_id(UUID, "serial0", "default") != console_id(UUID, "console0", "default")


def test_console_id_ignores_uuid_case():
    assert console_id(UUID.upper(), "serial0", "default") == console_id(UUID, "serial0", "default")


def test_console_id_does_not_mix_uuid_and_alias_boundaries():
    assert console_id(UUID, "serial0", "default") != console_id(UUID + "s", "erial0", "default")


@pytest.mark.parametrize("name", ["mock-vm", "../../etc/passwd", "vm with spaces", "a" * 200])
def test_console_id_never_contains_guest_name(name):
    ident = console_id(UUID, "serial0", "default")
    assert name not in ident
    assert is_socket_name(ident)


def test_console_id_is_a_console_id():
    assert is_socket_name(console_id(UUID, "serial0", "default"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0" * 23,
        "0" * 25,
        "A" * 24,
        "0123456789ABCDEF01234567",
        "g" * 24,
        "../" + "0" * 21,
        "0" * 23 + "/",
        "0" * 23 + "\n",
    ],
)
def test_a_console_id_alone_refuses_other_text(text):
    assert not is_socket_name(text)


def test_check_socket_dir_accepts_short_dir():
    check_socket_dir(Path("/run/serialconsole"))


def test_socket_names_are_console_ids_with_an_optional_random_suffix():
    ident = console_id(UUID, "serial0", "default")
    first, second = invitation_name(ident), invitation_name(ident)
    assert re.fullmatch(ident + r"-[0-9a-f]{8}", first) and first != second
    assert len(first) == MAX_NAME_LENGTH
    assert is_socket_name(ident) and is_socket_name(first)


@pytest.mark.parametrize(
    "text",
    ["", "0" * 24 + "-", "0" * 24 + "-" + "0" * 7, "0" * 24 + "-" + "0" * 9, "0" * 24 + "-ABCDEF01",
     "0" * 24 + "-../../x", "0" * 24 + "-0000000\n", "0" * 23 + "-00000000", "../" + "0" * 21],
)  # fmt: skip
def test_is_socket_name_refuses_other_text(text):
    assert not is_socket_name(text)


def test_check_socket_dir_accepts_longest_fitting_dir():
    directory = Path("/" + "d" * (MAX_SOCKET_PATH - 1 - MAX_NAME_LENGTH - 1))
    assert len(str(directory)) + 1 + MAX_NAME_LENGTH == MAX_SOCKET_PATH
    check_socket_dir(directory)


def test_check_socket_dir_refuses_too_long_dir():
    directory = Path("/" + "d" * (MAX_SOCKET_PATH - 1 - MAX_NAME_LENGTH))
    with pytest.raises(ValueError, match="too long"):
        check_socket_dir(directory)


def test_check_socket_dir_counts_bytes_not_characters():
    directory = Path("/" + "é" * 50)  # 51 characters, 101 bytes
    with pytest.raises(ValueError):
        check_socket_dir(directory)


def test_the_same_guest_on_two_hypervisors_shares_no_console_id():
    assert console_id(UUID, "serial0", "hv1") != console_id(UUID, "serial0", "hv2")
    assert console_id(UUID, "serial0", "hv1") == console_id(UUID, "serial0", "hv1")
