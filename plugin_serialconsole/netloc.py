"""Host names as they appear in Host headers and in URLs."""

from __future__ import annotations

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
