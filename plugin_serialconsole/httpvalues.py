"""HTTP values the host, the plugin and the Wok adapter all read: Content-Length, and the
methods that change nothing (which need no CSRF token)."""

from __future__ import annotations

import re

_DIGITS = re.compile(rb"[0-9]{1,15}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def content_length(value: str | bytes) -> int:
    """A Content-Length value as RFC 9110 has it: decimal digits only (not -1, +5, 0x10 or
    1_0, which ``int()`` would take); surrounding blanks are not part of it. Raises
    ValueError for anything else."""
    raw = value.encode("latin-1", "replace") if isinstance(value, str) else value
    raw = raw.strip(b" \t")
    if not _DIGITS.fullmatch(raw):
        raise ValueError(f"Content-Length {raw.decode('latin-1')!r}")
    return int(raw)
