"""Structured entries to the systemd journal, over its native protocol.

The protocol (systemd's "Native Journal Protocol" document) is one datagram per entry to
``/run/systemd/journal/socket``: ``NAME=value`` lines, or, for a value that holds a
newline, ``NAME``, a newline, the value's length as a little-endian 64-bit number, the
value and a newline. Names are upper-case letters, digits and underscores, not starting
with an underscore (those are the journal's own). systemd documents it for clients that
do without libsystemd; the bindings (PyPI's systemd-python, built from source against
libsystemd-dev; Debian's python3-systemd, outside a virtualenv) would add a C build for
this, and they always send to the system's socket, which a test cannot stand in for.

``audit_journal = auto`` sends to the journal when systemd runs the service with its
output going to the journal (it sets ``JOURNAL_STREAM``) and the socket is there.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import threading
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

SOCKET = Path("/run/systemd/journal/socket")
MODES = ("auto", "yes", "no")
SEND_TIMEOUT = 1.0
_INVALID = re.compile(r"[^A-Z0-9_]")


def field_name(name: str) -> str:
    """``name`` as a journal field name: upper case, other characters as ``_``."""
    return _INVALID.sub("_", name.upper()).lstrip("_") or "FIELD"


def encode_entry(fields: Mapping[str, str]) -> bytes:
    parts = []
    for name, value in fields.items():
        data = value.encode("utf-8", "replace")
        key = field_name(name).encode()
        if b"\n" in data:
            parts.append(key + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
        else:
            parts.append(key + b"=" + data + b"\n")
    return b"".join(parts)


def wanted(mode: str, environ: Mapping[str, str] = os.environ, path: Path = SOCKET) -> bool:
    """Whether entries go to the journal for ``audit_journal = mode``."""
    if mode == "auto":
        return bool(environ.get("JOURNAL_STREAM")) and path.is_socket()
    return mode == "yes"


class Journal:
    """Sends entries to the journal's socket at ``path``; a failure is logged once."""

    def __init__(self, path: Path = SOCKET) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.settimeout(SEND_TIMEOUT)  # a stalled journal delays, never hangs, a request
        self._lock = threading.Lock()
        self._failing = False

    def send(self, fields: Mapping[str, str]) -> None:
        entry = encode_entry(fields)
        with self._lock:
            try:
                self._socket.sendto(entry, str(self.path))
            except OSError as error:
                if not self._failing:
                    log.error("journal %s: cannot send: %s", self.path, error)
                self._failing = True
            else:
                self._failing = False

    def close(self) -> None:
        self._socket.close()
