"""REST API of a real host: listing, lookup, and every error with its status and code."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from .helpers import UNICODE_GUEST
from .rawhttp import raw_http, raw_request

GUESTS = {
    "mock-vm": ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001", "running", ["serial0"]),
    "mock-dual": ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000002", "running", ["serial0", "serial1"]),
    "mock-off": ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000003", "shutoff", ["serial0"]),
    "mock-noserial": ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000004", "running", []),
    UNICODE_GUEST: ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000005", "running", ["serial0"]),
    "mock-broken": ("3d1a9a4c-5e2b-4b7a-9f60-0c0de0000006", "shutoff", ["serial0"]),
}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert set(document) == {"code", "reason"}, document
    assert document["code"] == code, document
    assert isinstance(document["reason"], str) and document["reason"], document
    return document


def test_index(host):
    response = host.get("")
    assert response.status_code == 200
    assert response.json()["name"] == "serialconsole"


def test_list_guests(host):
    response = host.get("vms")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    listed = {guest["name"]: guest for guest in response.json()}
    assert set(listed) == set(GUESTS)
    for name, (uuid, state, aliases) in GUESTS.items():
        guest = listed[name]
        assert set(guest) == {
            "name",
            "uuid",
            "state",
            "consoles",
            "hypervisor",
            "rights",
            "log_written",
        }
        assert guest["hypervisor"] == "default"  # --mock: the one of uri
        assert (guest["uuid"], guest["state"]) == (uuid, state)
        assert guest["rights"] == ["view", "console", "takeover", "power", "audit"]  # auth none
        assert [c["alias"] for c in guest["consoles"]] == aliases
        assert all(c["type"] == "pty" for c in guest["consoles"])


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_lookup_by_name_and_uuid(host, name):
    listed = {guest["name"]: guest for guest in host.get("vms").json()}
    by_name = host.get(f"vms/{quote(name, safe='')}")
    assert by_name.status_code == 200, by_name.text
    assert by_name.json() == listed[name]
    by_uuid = host.get(f"vms/{GUESTS[name][0]}")
    assert by_uuid.status_code == 200, by_uuid.text
    assert by_uuid.json() == listed[name]


def test_lookup_url_encoded_unicode_name(host):
    path = "vms/" + quote(UNICODE_GUEST.encode("utf-8"), safe="")
    assert "%E8%99%9A" in path  # really percent-encoded UTF-8
    response = host.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == UNICODE_GUEST
    assert response.json()["uuid"] == GUESTS[UNICODE_GUEST][0]


def test_open_response_shape(host):
    opened = host.open(UNICODE_GUEST)
    assert set(opened) == {
        "token", "ws_url", "page", "expires_in", "device", "mode", "reattached", "replay_bytes",
        "escape",
    }  # fmt: skip
    assert opened["escape"] == "ctrl-q"
    assert opened["device"] == "serial0"
    assert (opened["mode"], opened["reattached"]) == ("write", False)
    assert isinstance(opened["replay_bytes"], int)
    assert opened["expires_in"] == 60
    assert opened["ws_url"].startswith("ws://127.0.0.1:")
    assert opened["ws_url"].endswith(f"/?token={opened['token']}")
    assert opened["page"] == (
        f"/plugins/serialconsole/console.html?guest={quote(UNICODE_GUEST, safe='')}"
        f"&device=serial0#ws={quote(opened['ws_url'], safe='')}"
    )
    (session,) = host.sessions()
    assert session["guest"] == UNICODE_GUEST
    assert session["uuid"] == GUESTS[UNICODE_GUEST][0]
    assert host.close(UNICODE_GUEST).status_code == 204


def test_open_and_close_by_uuid(host):
    uuid = GUESTS["mock-vm"][0]
    response = host.post(f"vms/{uuid}/serial")
    assert response.status_code == 201, response.text
    (session,) = host.sessions()
    assert (session["guest"], session["uuid"], session["device"]) == ("mock-vm", uuid, "serial0")
    response = host.delete(f"vms/{uuid}/serial")
    assert response.status_code == 204
    assert response.content == b""
    assert host.sessions() == []


def test_open_with_charset_content_type(host):
    response = host.post(
        "vms/mock-vm/serial",
        data=b'{"device": "serial0"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


def test_open_with_chunked_body(host):
    """A body without Content-Length (chunked) is read, not ignored."""
    parts = iter([b'{"device": ', b'"serial1"}'])
    response = host.post(
        "vms/mock-dual/serial", data=parts, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["device"] == "serial1"


def test_chunked_body_too_large(host):
    parts = iter([b'{"device": "', b"x" * (64 * 1024), b'"}'])
    response = host.post(
        "vms/mock-dual/serial", data=parts, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "SCONS0015E")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 1000, "SCONS0006E"),  # issue 13: 500 and a traceback
        (b"[" * 5000 + b"]" * 5000, "SCONS0006E"),
        (b'{"device": ' + b"[" * 900 + b"]" * 900 + b"}", "SCONS0007E"),
    ],
)
def test_deeply_nested_json_is_a_400(host, body, code):
    response = host.post(
        "vms/mock-vm/serial", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, code)
    assert host.sessions() == []


def assert_raw_error(answer: tuple[int, dict, bytes], status: int, code: str) -> None:
    got_status, headers, body = answer
    assert got_status == status, (got_status, body)
    assert headers["content-type"].startswith("application/json"), (headers, body)
    document = json.loads(body)
    assert document["code"] == code and document["reason"], document


@pytest.mark.parametrize(
    "lengths",
    [["-1"], ["+5"], ["0x10"], ["1_0"], ["5 5"], ["5", "5"], ["5", "9"], ["٥"]],
    ids=["-1", "+5", "0x10", "1_0", "5 5", "twice", "two-values", "arabic-digit"],
)
def test_odd_content_lengths_are_refused(host, lengths):
    """Content-Length is decimal digits, once (issue 13: -1, +5 and a second one passed)."""
    headers = ["Content-Type: application/json"] + [f"Content-Length: {n}" for n in lengths]
    request = raw_request("POST", host.api("vms/mock-vm/serial"), headers, b"{   }")
    assert_raw_error(raw_http(host.url, request), 400, "SCONS0043E")
    assert host.sessions() == []


def test_content_length_with_blanks_around_it_is_read(host):
    """Blanks around a header value are not part of it (RFC 9110), so "  5 " is 5."""
    headers = ["Content-Type: application/json", "Content-Length:   5 "]
    request = raw_request("POST", host.api("vms/mock-vm/serial"), headers, b"{   }")
    status, _, body = raw_http(host.url, request)
    assert status == 201, body
    assert host.close().status_code == 204


def test_content_length_and_chunked_together_are_refused(host):
    headers = ["Content-Length: 5", "Transfer-Encoding: chunked"]
    request = raw_request("POST", host.api("vms/mock-vm/serial"), headers, b"0\r\n\r\n")
    assert_raw_error(raw_http(host.url, request), 400, "SCONS0043E")


# --------------------------------------------------------------------------- errors


def test_unknown_guest(host):
    assert_error(host.get("vms/no-such-guest"), 404, "SCONS0001E")
    assert_error(host.post("vms/no-such-guest/serial"), 404, "SCONS0001E")
    assert_error(host.delete("vms/no-such-guest/serial"), 404, "SCONS0001E")
    assert_error(host.get("vms/3d1a9a4c-5e2b-4b7a-9f60-0c0de00000ff"), 404, "SCONS0001E")


def test_guest_not_running(host):
    assert_error(host.post("vms/mock-off/serial"), 409, "SCONS0002E")
    # the guest's state is the more useful answer than a device complaint
    assert_error(host.post("vms/mock-off/serial", json={"device": "nope"}), 409, "SCONS0002E")
    assert host.sessions() == []


def test_console_in_use(host):
    host.open("mock-vm")
    assert_error(host.post("vms/mock-vm/serial"), 409, "SCONS0003E")
    assert_error(host.post("vms/mock-vm/serial", json={"device": "serial0"}), 409, "SCONS0003E")
    assert_error(host.post("vms/mock-vm/serial", json={"force": False}), 409, "SCONS0003E")
    assert len(host.sessions()) == 1


def test_unknown_device(host):
    document = assert_error(
        host.post("vms/mock-vm/serial", json={"device": "serial9"}), 400, "SCONS0004E"
    )
    assert "serial9" in document["reason"]
    assert host.sessions() == []


def test_no_console_device(host):
    assert_error(host.post("vms/mock-noserial/serial"), 400, "SCONS0005E")
    assert host.sessions() == []


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"device": "serial0"', b'{"device": "\xff"}', b"\xef\xbb\xbf\x00"],
    ids=["garbage", "truncated", "bad-utf8", "nul"],
)
def test_bad_json(host, body):
    response = host.post(
        "vms/mock-vm/serial", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "SCONS0006E")
    assert host.sessions() == []


@pytest.mark.parametrize(
    "body",
    [
        {"force": "yes"},
        {"force": None},
        {"bogus": 1},
        {"device": ""},
        {"device": "x" * 65},
        {"device": "../serial0"},
        {"device": 0},
        [],
        "serial0",
        None,
    ],
    ids=[
        "force-string", "force-null", "unknown-key", "empty-device", "long-device",
        "device-pattern", "device-number", "array", "string", "null",
    ],
)  # fmt: skip
def test_schema_violation(host, body):
    import json

    response = host.post(
        "vms/mock-vm/serial", data=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "SCONS0007E")
    assert host.sessions() == []


def test_schema_violation_on_delete(host):
    host.open("mock-vm")
    assert_error(host.delete("vms/mock-vm/serial", json={"device": 5}), 400, "SCONS0007E")
    assert_error(host.delete("vms/mock-vm/serial", json={"force": True}), 400, "SCONS0007E")
    assert len(host.sessions()) == 1


def test_non_json_content_type(host):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/json"):
        response = host.post(
            "vms/mock-vm/serial", data=b'{"device": "serial0"}',
            headers={"Content-Type": content_type},
        )  # fmt: skip
        assert_error(response, 415, "SCONS0014E")
    assert host.sessions() == []


def test_body_too_large(host):
    body = b'{"device": "' + b"s" * (70 * 1024) + b'"}'
    response = host.post(
        "vms/mock-vm/serial", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "SCONS0015E")
    assert host.sessions() == []


def test_no_session_to_close(host):
    assert_error(host.delete("vms/mock-vm/serial"), 404, "SCONS0008E")
    host.open("mock-dual", device="serial0")
    assert_error(host.close("mock-dual", device="serial1"), 404, "SCONS0008E")
    assert len(host.sessions()) == 1


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "vms/mock-vm/serial", "POST, GET, DELETE"),
        ("PATCH", "vms/mock-vm/serial", "POST, GET, DELETE"),
        ("POST", "vms/mock-vm/serial/transcript", "GET"),
        ("POST", "vms", "GET"),
        ("DELETE", "vms/mock-vm", "GET"),
        ("POST", "sessions", "GET"),
    ],
)
def test_wrong_method(host, method, path, allow):
    response = host.request(method, path)
    assert_error(response, 405, "SCONS0012E")
    assert response.headers["Allow"] == allow
    assert host.sessions() == []


@pytest.mark.parametrize(
    "path",
    ["nope", "vms/mock-vm/console", "vms/mock-vm/serial/extra", "sessions/x", "vms/mock-vm/x/y"],
)
def test_unknown_path(host, path):
    assert_error(host.get(path), 404, "SCONS0011E")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "vms/%00"),
        ("GET", "vms/" + "a" * 3000),
        ("GET", "vms/%FF%FE"),
        ("GET", "vms/%2E%2E%2Fsessions"),
        ("POST", "vms/%00/serial"),
        ("POST", "vms/%25s%25n/serial"),
        ("GET", "vms/mock-vm?lang=%00&device=%FF"),
        ("DELETE", "vms/mock-vm/serial?device=%00"),
        ("DELETE", "vms/mock-vm/serial?device=serial0&device=serial1"),
        ("GET", "sessions?x=" + "%FF" * 100),
    ],
)
def test_never_5xx_for_bad_input(host, method, path):
    response = host.request(method, path)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    document = response.json()
    assert document["code"].startswith("SCONS") and isinstance(document["reason"], str)
    assert host.sessions() == []


# --------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("headers", "params", "reasons"),
    [
        (
            {"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"},
            None,
            (
                "ゲスト nope は存在しません。",
                "ゲスト mock-off は実行されていません (状態: shutoff)。",
                "ゲスト mock-vm のコンソール serial0 はすでに使用中です。"
                '引き継ぐには {"force": true} を送信してください。',
            ),
        ),
        (
            {"Accept-Language": "en;q=0.5"},
            {"lang": "ru-RU"},
            (
                "Гостевая система nope не существует.",
                "Гостевая система mock-off не запущена (состояние: shutoff).",
                "Консоль serial0 гостевой системы mock-vm уже используется. "
                'Отправьте {"force": true}, чтобы перехватить её.',
            ),
        ),
    ],
)
def test_error_reasons_in_japanese_and_russian(host, headers, params, reasons):
    not_found, not_running, in_use = reasons
    response = host.get("vms/nope", headers=headers, params=params)
    assert_error(response, 404, "SCONS0001E")
    assert response.json()["reason"] == not_found
    response = host.post("vms/mock-off/serial", headers=headers, params=params)
    assert_error(response, 409, "SCONS0002E")
    assert response.json()["reason"] == not_running
    assert host.post("vms/mock-vm/serial").status_code == 201
    response = host.post("vms/mock-vm/serial", headers=headers, params=params)
    assert_error(response, 409, "SCONS0003E")
    assert response.json()["reason"] == in_use
    assert host.delete("vms/mock-vm/serial").status_code == 204


LANGUAGE_VARIANTS = [
    ({"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}, None),
    ({"Accept-Language": "de"}, None),
    ({"Accept-Language": "*"}, None),
    ({"Accept-Language": ";;q=abc,,=;"}, None),
    ({"Accept-Language": "x" * 2000}, None),
    ({}, "fr"),
    ({}, "pt-BR"),
    ({}, "../../etc/passwd"),
    ({}, ""),
    ({"Accept-Language": "zz"}, "%s%s"),
]


@pytest.mark.parametrize(("headers", "lang"), LANGUAGE_VARIANTS)
def test_languages_do_not_break_anything(host, headers, lang):
    params = {"lang": lang} if lang is not None else None
    listing = host.get("vms", headers=headers, params=params)
    assert listing.status_code == 200
    assert len(listing.json()) == len(GUESTS)
    assert_error(host.get("vms/nope", headers=headers, params=params), 404, "SCONS0001E")
    assert_error(
        host.post("vms/mock-off/serial", headers=headers, params=params), 409, "SCONS0002E"
    )
    assert_error(host.get("nope", headers=headers, params=params), 404, "SCONS0011E")
    response = host.post("vms/mock-vm/serial", headers=headers, params=params)
    assert response.status_code == 201, response.text
    assert_error(host.post("vms/mock-vm/serial", headers=headers, params=params), 409, "SCONS0003E")
    assert host.delete("vms/mock-vm/serial", headers=headers, params=params).status_code == 204
