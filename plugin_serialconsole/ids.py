"""Console ids and socket names, derived from hypervisor, guest UUID and device alias only.

A console's first socket is named by its console id; every further invitation to the same
console process gets ``<console id>-<8 random hex digits>``, so no two tokens ever name
the same socket, not even across processes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

ID_LENGTH = 24
SUFFIX_LENGTH = 8
MAX_NAME_LENGTH = ID_LENGTH + 1 + SUFFIX_LENGTH
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107
_SOCKET_NAME = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}(-[0-9a-f]{{{SUFFIX_LENGTH}}})?")


def console_id(guest_uuid: str, device_alias: str, hypervisor: str) -> str:
    """A short, filesystem-safe id for one console device of one guest on one hypervisor:
    a guest copied to another hypervisor keeps its UUID, and shares nothing with it.

    Guest names never enter it: they may hold any character, and they can change.
    """
    key = f"{hypervisor}/{guest_uuid.lower()}/{device_alias}".encode()
    return hashlib.sha256(key).hexdigest()[:ID_LENGTH]


def invitation_name(console: str) -> str:
    """A fresh socket name for one more client of console ``console``."""
    return f"{console}-{secrets.token_hex(SUFFIX_LENGTH // 2)}"


def console_of_socket(name: str) -> str:
    """The console id of a socket name (``invitation_name`` adds a suffix to it)."""
    return name.partition("-")[0]


def is_socket_name(text: str) -> bool:
    """A console id, or a console id with an invitation suffix; nothing else."""
    return _SOCKET_NAME.fullmatch(text) is not None


def check_socket_dir(directory: Path) -> None:
    """Fail early, with a clear message, when socket paths would not fit a Unix address."""
    longest = len(str(directory).encode()) + 1 + MAX_NAME_LENGTH
    if longest > MAX_SOCKET_PATH:
        raise ValueError(
            f"run directory {directory} is too long for Unix socket paths "
            f"({longest} > {MAX_SOCKET_PATH} bytes); choose a shorter --run-dir"
        )
