"""The client behind a reverse proxy: forwarding headers count only from trusted proxies."""

from __future__ import annotations

import pytest

from plugin_serialconsole.host.forwarded import TrustedProxies, parse_address, parse_networks

LOOPBACK_PROXY = TrustedProxies.parse("127.0.0.1 ::1")


def test_without_trusted_proxies_headers_are_ignored():
    headers = {"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.8"}
    assert TrustedProxies().client_address("127.0.0.1", headers) == "127.0.0.1"


def test_spoofed_header_from_an_untrusted_peer_is_ignored():
    headers = {"X-Forwarded-For": "127.0.0.1, 198.51.100.7", "X-Real-IP": "198.51.100.8"}
    assert LOOPBACK_PROXY.client_address("203.0.113.9", headers) == "203.0.113.9"


def test_trusted_proxy_names_its_client():
    headers = {"X-Forwarded-For": "198.51.100.7"}
    assert LOOPBACK_PROXY.client_address("127.0.0.1", headers) == "198.51.100.7"


def test_client_cannot_hide_behind_addresses_it_wrote_itself():
    # the client sent "X-Forwarded-For: 192.0.2.1, 127.0.0.1"; nginx appended its peer
    headers = {"X-Forwarded-For": "192.0.2.1, 127.0.0.1, 198.51.100.7"}
    assert LOOPBACK_PROXY.client_address("127.0.0.1", headers) == "198.51.100.7"


def test_chain_of_trusted_proxies_is_walked_right_to_left():
    proxies = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8")
    headers = {"X-Forwarded-For": "192.0.2.1, 198.51.100.7, 10.1.2.3, 10.9.8.7"}
    assert proxies.client_address("127.0.0.1", headers) == "198.51.100.7"


def test_repeated_header_lines_count_as_one_list():
    headers = {"X-Forwarded-For": "192.0.2.1,198.51.100.7 ,"}
    assert LOOPBACK_PROXY.client_address("::1", headers) == "198.51.100.7"


def test_all_trusted_leaves_the_left_most():
    headers = {"X-Forwarded-For": "::1, 127.0.0.1"}
    assert LOOPBACK_PROXY.client_address("127.0.0.1", headers) == "::1"


def test_garbage_from_the_proxy_leaves_the_proxy_as_the_client():
    headers = {"X-Forwarded-For": "unknown"}
    assert LOOPBACK_PROXY.client_address("127.0.0.1", headers) == "127.0.0.1"


def test_x_real_ip_when_there_is_no_x_forwarded_for():
    assert LOOPBACK_PROXY.client_address("::1", {"X-Real-IP": "2001:db8::5"}) == "2001:db8::5"
    headers = {"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.8"}
    assert LOOPBACK_PROXY.client_address("::1", headers) == "198.51.100.7"


def test_trusted_peer_without_headers_is_the_client():
    assert LOOPBACK_PROXY.client_address("127.0.0.1", {}) == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("198.51.100.7", "198.51.100.7"),
        (" 198.51.100.7:4431 ", "198.51.100.7"),
        ("[2001:db8::5]:443", "2001:db8::5"),
        ("2001:db8::5", "2001:db8::5"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("unknown", None),
        ("", None),
    ],
)
def test_addresses_as_proxies_write_them(text, address):
    parsed = parse_address(text)
    assert (str(parsed) if parsed else None) == address


def test_ipv4_mapped_peer_is_trusted_as_its_ipv4_address():
    assert LOOPBACK_PROXY.client_address("::ffff:127.0.0.1", {"X-Real-IP": "192.0.2.1"}) == (
        "192.0.2.1"
    )


def test_networks_are_checked():
    assert len(parse_networks("127.0.0.1 ::1, 10.0.0.0/8")) == 3
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="'localhost'"):
        parse_networks("localhost")
