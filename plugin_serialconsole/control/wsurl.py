"""The WebSocket URL handed to browsers, from the ``websocket_url`` template.

The template is a ``ws://`` or ``wss://`` URL with these placeholders:

    {host}      the host the client asked for, as in its Host header: name[:port]
    {hostname}  the same without the port
    {ws_port}   the port the WebSocket proxy listens on

Directly on the proxy (the default): ``ws://{hostname}:{ws_port}/``. Behind a reverse
proxy that serves the WebSocket under /websockify on the page's own origin:
``wss://{host}/websockify``. The token is appended as the ``token`` query parameter.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import urlsplit

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
        sample = urlsplit(self.template.format(host="h:1", hostname="h", ws_port=1))
        if sample.scheme not in ("ws", "wss") or not sample.netloc or sample.fragment:
            raise ValueError(
                f"websocket_url: expected ws://… or wss://… without a #fragment, "
                f"not {self.template!r}"
            )

    def build(self, host_header: str | None, fallback_host: str, ws_port: int, token: str) -> str:
        """The URL for one token, for a client that sent ``host_header``."""
        host, hostname = client_host(host_header, fallback_host)
        url = self.template.format(host=host, hostname=hostname, ws_port=ws_port)
        separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
        return f"{url}{separator}token={token}"


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
