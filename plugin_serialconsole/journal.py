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

A send never waits: the socket does not block, so when journald is stalled and its queue
is full, the entry is dropped (and counted) instead of holding up the request that caused
it. After a failure no entry is tried for ``BACKOFF`` seconds; the first one that goes
through again says how many were dropped. The audit file keeps every event regardless.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

SOCKET = Path("/run/systemd/journal/socket")
MODES = ("auto", "yes", "no")
BACKOFF = 5.0  # seconds without trying after a failed send
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
    """Sends entries to the journal's socket at ``path`` without waiting; what cannot be
    sent is dropped and counted (``dropped``), a failure logged once."""

    def __init__(self, path: Path = SOCKET, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.clock = clock
        self._socket = socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        )
        self._lock = threading.Lock()
        self._failing = False
        self._resume = 0.0  # no try before this time, after a failure
        self._dropped_since = 0  # entries dropped since the last one sent
        self.dropped = 0

    def send(self, fields: Mapping[str, str]) -> None:
        entry = encode_entry(fields)
        with self._lock:
            if self._failing and self.clock() < self._resume:
                self._drop()
                return
            try:
                self._socket.sendto(entry, str(self.path))
            except OSError as error:  # BlockingIOError: journald's queue is full
                if not self._failing:
                    log.error("journal %s: cannot send: %s", self.path, error)
                self._failing = True
                self._resume = self.clock() + BACKOFF
                self._drop()
                return
            if self._dropped_since:
                log.warning(
                    "journal %s: sending again, %d entries dropped", self.path, self._dropped_since
                )
            self._failing = False
            self._dropped_since = 0

    def _drop(self) -> None:
        self.dropped += 1
        self._dropped_since += 1

    def close(self) -> None:
        self._socket.close()
