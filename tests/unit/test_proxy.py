"""The websockify seams: Origin check and the token -> Unix socket lookup."""

from __future__ import annotations

import os
import socket

import pytest

from plugin_serialconsole import rights
from plugin_serialconsole.bridge.proxy import ConsoleTokens, origin_allowed
from plugin_serialconsole.bridge.tokens import TokenStore
from plugin_serialconsole.ids import console_id
from plugin_serialconsole.rights import Access, Rights, RightsFile, Subject

CONSOLE = console_id("6695eb01-f6a4-8304-79aa-97f2502e193f", "serial0", "default")


def test_missing_origin_is_allowed():
    assert origin_allowed(None, "example.com:8010", [])


def test_missing_origin_is_allowed_without_host_header():
    assert origin_allowed(None, None, [])


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://example.com:8001", "example.com:8010"),
        ("https://example.com", "example.com:8010"),
        ("http://example.com:8010", "example.com:8010"),
        ("http://EXAMPLE.com:8001", "example.COM:8010"),
        ("https://10.0.0.5:8001", "10.0.0.5:8010"),
        ("http://example.com:8001", "example.com"),
    ],
)
def test_same_hostname_any_port_is_allowed(origin, host):
    assert origin_allowed(origin, host, [])


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://evil.example:8001", "example.com:8010"),
        ("http://example.com.evil.example", "example.com:8010"),
        ("http://example.com@evil.example", "example.com:8010"),
        ("http://10.0.0.6:8010", "10.0.0.5:8010"),
        ("http://example.com:8001", None),
        ("http://example.com:8001", ""),
    ],
)
def test_other_hostname_is_refused(origin, host):
    assert not origin_allowed(origin, host, [])


@pytest.mark.parametrize(
    "origin",
    [
        "https://portal.example.org",
        "https://portal.example.org/",
        "HTTPS://Portal.Example.ORG",
        " https://portal.example.org/ ",
    ],
)
def test_allow_list_match_ignores_case_and_trailing_slash(origin):
    allowed = ["https://Portal.example.org/"]
    assert origin_allowed(origin, "console.example.com:8010", allowed)


def test_allow_list_needs_exact_origin():
    allowed = ["https://portal.example.org"]
    host = "console.example.com:8010"
    assert not origin_allowed("http://portal.example.org", host, allowed)
    assert not origin_allowed("https://portal.example.org:444", host, allowed)
    assert not origin_allowed("https://other.example.org", host, allowed)


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "file://",
        "file:///etc/passwd",
        "",
        "garbage",
        "http://",
        "http://[::1",
        "javascript:alert(1)",
        "ftp://example.com",
        "//example.com",
    ],
)
def test_opaque_or_garbage_origins_are_refused(origin):
    assert not origin_allowed(origin, "example.com:8010", [])


def test_garbage_host_header_refuses_browser_origin():
    assert not origin_allowed("http://example.com", "[::1", [])


def test_ipv6_host_header_matches_ipv6_origin():
    assert origin_allowed("http://[::1]:8010", "[::1]:8010", [])
    assert origin_allowed("http://[::1]:8001", "[::1]:8010", [])
    assert not origin_allowed("http://[::2]:8010", "[::1]:8010", [])
    assert not origin_allowed("http://127.0.0.1:8010", "[::1]:8010", [])


@pytest.fixture
def tokens(tmp_path):
    return TokenStore(tmp_path / "tokens").open(create=True)


@pytest.fixture
def listening_socket(short_dir):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(short_dir / CONSOLE))
    yield short_dir / CONSOLE
    sock.close()


def test_lookup_returns_unix_socket_target(tokens, short_dir, listening_socket):
    token = tokens.issue(CONSOLE, ttl=60).token
    target = ConsoleTokens(tokens, short_dir).lookup(token)
    assert target == ["unix_socket", str(listening_socket)]


def test_lookup_refuses_reused_token(tokens, short_dir, listening_socket):
    token = tokens.issue(CONSOLE, ttl=60).token
    lookup = ConsoleTokens(tokens, short_dir).lookup
    assert lookup(token) is not None
    assert lookup(token) is None


def test_lookup_refuses_expired_token(tokens, short_dir, listening_socket):
    token = tokens.issue(CONSOLE, ttl=-1).token
    assert ConsoleTokens(tokens, short_dir).lookup(token) is None


def test_lookup_refuses_regular_file(tokens, short_dir):
    (short_dir / CONSOLE).write_bytes(b"")
    token = tokens.issue(CONSOLE, ttl=60).token
    assert ConsoleTokens(tokens, short_dir).lookup(token) is None


def test_lookup_refuses_symlink_to_socket(tokens, short_dir, listening_socket):
    other = console_id("6695eb01-f6a4-8304-79aa-97f2502e193f", "serial1", "default")
    (short_dir / other).symlink_to(listening_socket)
    token = tokens.issue(other, ttl=60).token
    assert ConsoleTokens(tokens, short_dir).lookup(token) is None


def test_lookup_refuses_missing_socket(tokens, short_dir):
    token = tokens.issue(CONSOLE, ttl=60).token
    assert ConsoleTokens(tokens, short_dir).lookup(token) is None


def test_lookup_refuses_socket_not_named_by_console_id(tokens, short_dir):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        sock.bind(str(short_dir / "x"))
        for console in ("x", "../x", f"../{short_dir.name}/x"):
            token = tokens.issue(console, ttl=60).token
            assert ConsoleTokens(tokens, short_dir).lookup(token) is None


def test_lookup_refuses_unknown_and_garbage_tokens(tokens, short_dir, listening_socket):
    tokens.issue(CONSOLE, ttl=60)
    lookup = ConsoleTokens(tokens, short_dir).lookup
    for token in ("", "A" * 43, "../" + CONSOLE, CONSOLE):
        assert lookup(token) is None


def _rights(tmp_path, text: str) -> Rights:
    path = tmp_path / "rights"
    path.write_text(text)
    return Rights(RightsFile(path))


def test_a_token_whose_right_was_taken_away_opens_nothing(
    tokens, short_dir, listening_socket, tmp_path
):
    policy = _rights(tmp_path, "alice web-* console\n")
    lookup = ConsoleTokens(tokens, short_dir, policy).lookup
    writer = Access(Subject("alice"), "default", "web-1", rights.CONSOLE)
    assert lookup(tokens.issue(CONSOLE, ttl=60, access=writer).token) is not None
    kept = tokens.issue(CONSOLE, ttl=60, access=writer).token
    stamp = policy.rights_file.path.stat().st_mtime_ns + 10**9
    policy.rights_file.path.write_text("alice web-* view\n")
    os.utime(policy.rights_file.path, ns=(stamp, stamp))
    assert lookup(kept) is None
    viewer = Access(Subject("alice"), "default", "web-1", rights.VIEW)
    assert lookup(tokens.issue(CONSOLE, ttl=60, access=viewer).token) is not None


def test_with_rules_a_token_naming_no_operator_opens_nothing(
    tokens, short_dir, listening_socket, tmp_path
):
    lookup = ConsoleTokens(tokens, short_dir, _rights(tmp_path, "* * all\n")).lookup
    assert lookup(tokens.issue(CONSOLE, ttl=60).token) is None
