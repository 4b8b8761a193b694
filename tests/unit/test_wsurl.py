"""The WebSocket URL the REST API hands to browsers (``websocket_url`` template)."""

from __future__ import annotations

import pytest

from plugin_serialconsole.control.wsurl import WebSocketUrl, client_host, connect_source


@pytest.mark.parametrize(
    ("host_header", "expected"),
    [
        ("console.example.com:8010", "ws://console.example.com:64667/?token=T"),
        ("127.0.0.1", "ws://127.0.0.1:64667/?token=T"),
        ("[::1]:8010", "ws://[::1]:64667/?token=T"),
        (None, "ws://10.0.0.1:64667/?token=T"),
        ("", "ws://10.0.0.1:64667/?token=T"),
    ],
)
def test_default_is_the_proxy_on_the_host_the_client_used(host_header, expected):
    assert WebSocketUrl().build(host_header, "10.0.0.1", 64667, "T") == expected


@pytest.mark.parametrize(
    ("host_header", "expected"),
    [
        ("console.example.com", "wss://console.example.com/websockify?token=T"),
        ("console.example.com:8443", "wss://console.example.com:8443/websockify?token=T"),
        ("[::1]:8443", "wss://[::1]:8443/websockify?token=T"),
    ],
)
def test_behind_a_reverse_proxy_host_keeps_the_port(host_header, expected):
    url = WebSocketUrl("wss://{host}/websockify")
    assert url.build(host_header, "127.0.0.1", 64667, "T") == expected


def test_a_query_in_the_template_is_kept():
    url = WebSocketUrl("wss://{host}/ws?console=1")
    assert url.build("h", "127.0.0.1", 1, "T") == "wss://h/ws?console=1&token=T"


@pytest.mark.parametrize(
    "host_header",
    ['evil.example/"<script>', "a b", "x:notaport", "[::1", "@evil.example", "-bad-.example"],
)
def test_host_headers_that_are_not_host_names_fall_back_to_the_listen_address(host_header):
    host, hostname = client_host(host_header, "127.0.0.1")
    assert (host, hostname) in {("127.0.0.1", "127.0.0.1"), ("evil.example", "evil.example")}


@pytest.mark.parametrize(
    "template",
    [
        "http://{host}/",
        "wss://{host}/#frag",
        "wss://{port}/",
        "wss://{host!r}/",
        "{host}",
        "",
        "wss://user@{host}/",
        "ws://{hostname}:console/",
        "ws://exa mple/",
        "ws://*.example/",
        "ws://h;x/",
    ],
)
def test_unusable_templates_are_refused(template):
    with pytest.raises(ValueError, match="websocket_url"):
        WebSocketUrl(template)


@pytest.mark.parametrize(
    ("template", "host_header"),
    [
        ("ws://{hostname}:{ws_port}/", "console.example.com:8010"),
        ("wss://{host}/websockify", "console.example.com:8443"),
        ("wss://{host}/ws?console=1", "h"),
        ("ws://{hostname}:{ws_port}/?", "[::1]:8010"),
    ],
)
def test_every_url_handed_out_is_the_prefix_and_a_token(template, host_header):
    url = WebSocketUrl(template)
    prefix = url.prefix(host_header, "127.0.0.1", 64667)
    assert prefix.endswith("token=")
    assert url.build(host_header, "127.0.0.1", 64667, "T0k-en_") == prefix + "T0k-en_"


@pytest.mark.parametrize(
    ("prefix", "source"),
    [
        ("ws://127.0.0.1:64667/?token=", "ws://127.0.0.1:64667/"),
        ("wss://console.example.com/websockify?token=", "wss://console.example.com/websockify"),
        ("wss://h:8443/websockify?token=", "wss://h:8443/websockify"),
        ("wss://h/ws?console=1&token=", "wss://h/ws"),
        ("ws://h:1?token=", "ws://h:1/"),
        # a ";" or "," would end the source expression, or the directive
        ("wss://h/a;b,c?token=", "wss://h/a%3Bb%2Cc"),
        # no IPv6 literal in a source expression: any host, on that scheme, port and path
        ("ws://[::1]:64667/?token=", "ws://*:64667/"),
    ],
)
def test_the_pages_policy_allows_the_handed_out_urls_and_no_other(prefix, source):
    assert connect_source(prefix) == source
