"""What an operator can send besides typing: the request carrier, its keys, its schema."""

from __future__ import annotations

import uuid

import pytest

from plugin_serialconsole.console import protocol
from plugin_serialconsole.control.http import api_schema
from plugin_serialconsole.ids import console_id
from plugin_serialconsole.sendkeys import (
    CONTROL_KEYS,
    SYSRQ_KEYS,
    SendRequest,
    control_byte,
)


def test_the_schema_offers_exactly_the_kernels_sysrq_keys():
    branches = api_schema()["properties"]["vm_send"]["allOf"]
    (sysrq,) = [b for b in branches if b["if"]["properties"]["action"].get("const") == "sysrq"]
    assert sorted(sysrq["then"]["properties"]["key"]["enum"]) == sorted(SYSRQ_KEYS)


def test_sysrq_is_alt_sysrq_and_the_key_and_ctrl_alt_del_its_three_keys():
    assert SendRequest("sysrq", "h").keycodes() == [56, 99, 35]
    assert SendRequest("sysrq", "1").keycodes() == [56, 99, 2]
    assert SendRequest("sysrq", "0").keycodes() == [56, 99, 11]
    assert SendRequest("ctrl-alt-del").keycodes() == [29, 56, 111]
    assert all(len(SendRequest("sysrq", key).keycodes()) == 3 for key in SYSRQ_KEYS)


def test_control_keys_are_the_c0_bytes():
    assert control_byte("Q") == b"\x11"
    assert control_byte("]") == b"\x1d"
    assert control_byte("@") == b"\x00"
    assert b"".join(control_byte(key) for key in CONTROL_KEYS) == bytes(range(32))
    with pytest.raises(ValueError):
        control_byte("1")


def test_each_request_says_what_it_sends_and_which_need_confirmation():
    assert SendRequest("sysrq", "c").describe() == "SysRq+c (crash)"
    assert SendRequest("control", "Q").describe() == "Ctrl+Q"
    assert [SendRequest(a).destructive for a in ("nmi", "ctrl-alt-del", "break")] == [
        True,
        True,
        False,
    ]
    assert SendRequest("sysrq", "b").destructive and not SendRequest("sysrq", "h").destructive


@pytest.mark.parametrize(
    "message",
    [
        {"event": "send", "action": "sysrq", "key": "x"},
        {"event": "send", "action": "reboot"},
        {"event": "send"},
        {"event": "send", "action": "control", "key": 17},
        {"event": "send", "action": "control", "key": "QQ"},
    ],
)
def test_a_malformed_send_line_is_ignored(message):
    assert protocol.parse_send(message) is None


def test_a_send_line_round_trips():
    request = SendRequest("control", "Q", "serial1")
    line = protocol.encode(protocol.SEND, **request.as_json())
    assert protocol.parse_send(protocol.decode(line)) == request


def test_an_invite_carries_a_known_escape_key_or_is_malformed():
    base = {
        "event": "invite",
        "socket": console_id(str(uuid.uuid4()), "serial0", "default"),
        "mode": "write",
        "ttl": 5,
    }
    assert protocol.parse_invite(base).escape == "ctrl-q"
    assert protocol.parse_invite({**base, "escape": "ctrl-]"}).escape == "ctrl-]"
    assert protocol.parse_invite({**base, "escape": "none"}).escape == "none"
    assert protocol.parse_invite({**base, "escape": "ctrl-x"}) is None
