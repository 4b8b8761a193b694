"""The WebSocket URL handed to browsers, from the ``websocket_url`` template.

The template is a ``ws://`` or ``wss://`` URL with these placeholders:

    {host}      the host the client asked for, as in its Host header: name[:port]
    {hostname}  the same without the port
    {ws_port}   the port the WebSocket proxy listens on

Directly on the proxy (the default): ``ws://{hostname}:{ws_port}/``. Behind a reverse
proxy that serves the WebSocket under /websockify on the page's own origin:
``wss://{host}/websockify``. The token is appended as the ``token`` query parameter, so
every URL handed to one client is its ``prefix`` followed by a token: what the console
page checks a ``#ws=`` link against, and what ``connect_source`` lets the page's
Content-Security-Policy reach.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from plugin_serialconsole.netloc import url_host

DEFAULT_TEMPLATE = "ws://{hostname}:{ws_port}/"
FIELDS = ("host", "hostname", "ws_port")
# A DNS name, an IPv4 address or an IPv6 literal; anything else in a Host header is ignored.
HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


@dataclass(frozen=True)
class WebSocketUrl:
    """A checked ``websocket_url`` template."""

    template: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        for _text, field, spec, conversion in string.Formatter().parse(self.template):
            if field is None:
                continue
            if field not in FIELDS or spec or conversion:
                raise ValueError(
                    f"websocket_url: unknown placeholder {{{field}}} in {self.template!r}; "
                    f"known: {', '.join('{' + f + '}' for f in FIELDS)}"
                )
        if not _usable(self.template.format(host="h:1", hostname="h", ws_port=1)):
            raise ValueError(
                f"websocket_url: expected ws://host… or wss://host… (a host name or address, "
                f"a numeric port, no user@, no #fragment), not {self.template!r}"
            )

    def prefix(self, host_header: str | None, fallback_host: str, ws_port: int) -> str:
        """Every URL handed to a client that sent ``host_header``: this, then a token."""
        host, hostname = client_host(host_header, fallback_host)
        url = self.template.format(host=host, hostname=hostname, ws_port=ws_port)
        separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
        return f"{url}{separator}token="

    def build(self, host_header: str | None, fallback_host: str, ws_port: int, token: str) -> str:
        """The URL for one token, for a client that sent ``host_header``."""
        return self.prefix(host_header, fallback_host, ws_port) + token


def connect_source(url: str) -> str:
    """The Content-Security-Policy source expression that lets a page reach ``url`` (a
    ``prefix``) and nothing else: its scheme, host, port and path. CSP ignores the query;
    a path ending in ``/`` allows the paths below it.

    Source expressions cannot name an IPv6 literal (Chromium drops such a source), so for
    one the host is ``*``: any host, still only that scheme, port and path."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    host = "*" if ":" in hostname else hostname
    port = f":{parts.port}" if parts.port else ""
    # In a source expression ";" and "," would end it: percent-encode all but "/".
    path = quote(unquote(parts.path), safe="/") or "/"
    return f"{parts.scheme}://{host}{port}{path}"


def _usable(url: str) -> bool:
    """A ws:// or wss:// URL whose host part a Content-Security-Policy can name."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("ws", "wss")
        and bool(parts.hostname)
        and HOSTNAME.fullmatch(parts.hostname) is not None
        and "@" not in parts.netloc
        and not parts.fragment
    )


def client_host(host_header: str | None, fallback_host: str) -> tuple[str, str]:
    """(name[:port], name) from a Host header; ``fallback_host`` when it is missing or
    not a plain host name or address."""
    hostname, port = None, None
    try:
        parts = urlsplit(f"//{host_header or ''}")
        hostname, port = parts.hostname, parts.port
    except ValueError:
        pass
    if not hostname or not HOSTNAME.fullmatch(hostname):
        hostname, port = fallback_host, None
    name = url_host(hostname)
    return (f"{name}:{port}" if port else name), name
