"""Host names, origins and cookies as they appear in HTTP headers and URLs."""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit


def hostname_of(netloc: str) -> str | None:
    """``host:port`` (or ``[v6]:port``) -> the host name, lower-cased; None if unparsable."""
    try:
        return urlsplit(f"//{netloc}").hostname
    except ValueError:
        return None


def url_host(hostname: str) -> str:
    """The host name as written in a URL: IPv6 literals go in brackets."""
    return f"[{hostname}]" if ":" in hostname else hostname


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(
    origin: str | None, host_header: str | None, allowed: Iterable[str] = ()
) -> bool:
    """No Origin (a non-browser client) passes; a browser's must match Host or the allow list.

    Ports may differ: the page comes from the cherrypy port, the WebSocket goes to ours.
    """
    if origin is None:
        return True
    if normalize_origin(origin) in {normalize_origin(o) for o in allowed}:
        return True
    try:
        parsed = urlsplit(origin)
        origin_host = parsed.hostname
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not origin_host:
        return False
    return origin_host == hostname_of(host_header or "")


def cookie_value(cookie_header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a Cookie header; None if absent or unparsable."""
    cookies = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(name)
    return morsel.value if morsel else None
