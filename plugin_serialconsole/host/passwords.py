"""Operators and their password hashes: the users file and scrypt.

The users file holds one ``name:hash`` line per operator (``#`` starts a comment), with
hashes like ``$scrypt$ln=15,r=8,p=1$<salt>$<hash>`` (base64), optionally followed by
``:group,group`` (the groups rights rules may name). It is re-read when it
changes (its modification time or size), so adding an operator needs no restart, and the
re-read reports the operators it no longer holds. A file emptied after it was read is taken
as one being rewritten in place and keeps the operators it had until it has content again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOG2_N, BLOCK_SIZE, PARALLELISM = 15, 8, 1  # ~32 MiB and ~0.1 s per check: slow on purpose
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEMORY = 64 * 1024 * 1024
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
GROUP_NAME = USER_NAME
HASH_FORMAT = re.compile(
    r"\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)"
)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=2**log2_n, r=r, p=p, maxmem=MAX_MEMORY, dklen=KEY_BYTES
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, LOG2_N, BLOCK_SIZE, PARALLELISM)
    encoded = [base64.b64encode(part).decode() for part in (salt, key)]
    return f"$scrypt$ln={LOG2_N},r={BLOCK_SIZE},p={PARALLELISM}${encoded[0]}${encoded[1]}"


def verify_password(password: str, encoded: str) -> bool:
    match = HASH_FORMAT.fullmatch(encoded)
    if match is None:
        return False
    log2_n, r, p = (int(group) for group in match.groups()[:3])
    if log2_n > 20 or r * p > 64:
        return False  # a hash this costly is not ours; refuse rather than stall
    salt, key = (base64.b64decode(group) for group in match.groups()[3:])
    return hmac.compare_digest(_scrypt(password, salt, log2_n, r, p), key)


# A fixed hash to check unknown names against, so they cost as much as known ones.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Operator:
    """One line of the users file: the password's hash and the operator's groups."""

    hash: str
    groups: frozenset[str] = frozenset()

    def line(self, name: str) -> str:
        groups = f":{','.join(sorted(self.groups))}" if self.groups else ""
        return f"{name}:{self.hash}{groups}\n"


def parse_groups(text: str) -> frozenset[str] | None:
    """The groups of a comma-separated list, or None if one is not a valid name."""
    groups = frozenset(group.strip() for group in text.split(",") if group.strip())
    return groups if all(GROUP_NAME.fullmatch(group) for group in groups) else None


def parse_users(text: str) -> dict[str, Operator]:
    users = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        encoded, _, group_list = rest.partition(":")
        groups = parse_groups(group_list)
        if not USER_NAME.fullmatch(name) or not HASH_FORMAT.fullmatch(encoded) or groups is None:
            log.warning("users file line %d is not name:$scrypt$...[:group,...]; ignored", number)
            continue
        users[name] = Operator(encoded, groups)
    return users


class UsersFile:
    """The operators allowed in, read from ``path`` (again whenever the file changes);
    ``on_removed`` hears, once, of the names a re-read no longer finds."""

    def __init__(
        self, path: Path, on_removed: Callable[[set[str]], None] = lambda names: None
    ) -> None:
        self.path = path
        self._on_removed = on_removed
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, Operator] = {}

    def users(self) -> dict[str, Operator]:
        removed: set[str] = set()
        with self._lock:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if st.st_size == 0 and self._stamp is not None:
                # An editor that rewrites in place truncates first: until the file has
                # content again, its operators stay (an empty file would end every login).
                return self._users
            if stamp != self._stamp:
                if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                    log.warning("%s is readable by others; chmod 600 it", self.path)
                users = parse_users(self.path.read_text())
                if self._stamp is not None:
                    removed = self._users.keys() - users.keys()
                self._users, self._stamp = users, stamp
            users = self._users
        if removed:
            self._on_removed(removed)
        return users

    def verify(self, name: str, password: str) -> bool:
        try:
            operator = self.users().get(name)
        except OSError as error:
            log.error("cannot read users file %s: %s", self.path, error)
            operator = None
        encoded = operator.hash if operator is not None else _DUMMY_HASH
        return verify_password(password, encoded) and operator is not None

    def groups(self, name: str) -> frozenset[str]:
        """The groups of operator ``name`` (none if the file cannot be read)."""
        try:
            operator = self.users().get(name)
        except OSError:
            return frozenset()
        return operator.groups if operator is not None else frozenset()

    def save(self, users: dict[str, Operator]) -> None:
        """Write ``users`` atomically, mode 0600."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(
                "# serialconsole operators: name:scrypt hash[:groups] (serialconsole-passwd)\n"
            )
            out.writelines(operator.line(name) for name, operator in sorted(users.items()))
        os.replace(temporary, self.path)
