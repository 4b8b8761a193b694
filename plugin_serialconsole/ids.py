"""Console ids: the names of console sockets, derived from guest UUID + device alias only."""

from __future__ import annotations

import hashlib
from pathlib import Path

ID_LENGTH = 24
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


def console_id(guest_uuid: str, device_alias: str) -> str:
    """A short, filesystem-safe id for one console device of one guest.

    Guest names never enter it: they may hold any character, and they can change.
    """
    key = f"{guest_uuid.lower()}/{device_alias}".encode()
    return hashlib.sha256(key).hexdigest()[:ID_LENGTH]


def is_console_id(text: str) -> bool:
    return len(text) == ID_LENGTH and all(c in "0123456789abcdef" for c in text)


def check_socket_dir(directory: Path) -> None:
    """Fail early, with a clear message, when socket paths would not fit a Unix address."""
    longest = len(str(directory).encode()) + 1 + ID_LENGTH
    if longest > MAX_SOCKET_PATH:
        raise ValueError(
            f"run directory {directory} is too long for Unix socket paths "
            f"({longest} > {MAX_SOCKET_PATH} bytes); choose a shorter --run-dir"
        )
