"""One-time console tokens, shared between the host and the websockify process.

A token is 256 random bits from ``secrets``. Only its SHA-256 digest is stored, as the name
of a file in the token directory holding the name of the console socket it opens and the
expiry time. Consuming a
token unlinks that file: whichever unlinks it first wins, so a token opens at most one
connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from plugin_serialconsole.rights import Access
from plugin_serialconsole.rundir import entries, open_private_dir

TOKEN_BYTES = 32
IN_PROGRESS_GRACE = 60.0
MAX_RECORD = 16384  # a guest name, an operator and their groups fit
_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted under a token's name must not hang the reader
_READ_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return 40 <= len(token) <= 64 and set(token) <= _TOKEN_ALPHABET


@dataclass(frozen=True)
class LoginBinding:
    """The login session a token belongs to: its cookie's name and the value's SHA-256."""

    cookie: str
    digest: str


@dataclass(frozen=True)
class TokenRecord:
    socket: str  # the name of the console socket it opens
    binding: LoginBinding | None = None
    access: Access | None = None  # whose token, for what: checked again on use


@dataclass(frozen=True)
class IssuedToken:
    token: str
    digest: str
    expires_at: float


class TokenStore:
    """Hashed, single-use, expiring tokens kept as files in one private directory.

    The directory is opened once (refused if it is a link, another user's, or writable
    by others, see ``rundir``) and every file in it is reached through that descriptor,
    never following a link; only regular files of this user count as tokens.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None
        self._lock = threading.Lock()

    def open(self, create: bool = False) -> TokenStore:
        """Open (with ``create``: make) the directory now, so an unsafe one fails early."""
        self._directory_fd(create)
        return self

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _directory_fd(self, create: bool = False) -> int:
        with self._lock:
            if self._fd is None:
                self._fd = open_private_dir(self.directory, create)
            return self._fd

    def issue(
        self,
        socket: str,
        ttl: float,
        binding: LoginBinding | None = None,
        access: Access | None = None,
    ) -> IssuedToken:
        """A token that opens console socket ``socket`` (its name) once, for ``ttl`` s."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        issued = IssuedToken(token, digest(token), time.time() + ttl)
        fields = {"socket": socket, "expires": issued.expires_at}
        if binding is not None:
            fields["session"] = {"cookie": binding.cookie, "digest": binding.digest}
        if access is not None:
            fields["access"] = access.as_json()
        record = json.dumps(fields).encode()
        directory = self._directory_fd()
        temporary = f".{issued.digest}.tmp"
        fd = os.open(temporary, _CREATE_FILE, 0o600, dir_fd=directory)
        try:
            os.write(fd, record)
        finally:
            os.close(fd)
        os.replace(temporary, issued.digest, src_dir_fd=directory, dst_dir_fd=directory)
        return issued

    def consume(self, token: str) -> TokenRecord | None:
        """What the token opens, or None if unknown, used or expired."""
        if not looks_like_token(token):
            return None
        directory = self._directory_fd()
        name = digest(token)
        try:
            record = json.loads(_read_record(directory, name))
            os.unlink(name, dir_fd=directory)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        if record.get("expires", 0) < time.time() or not isinstance(record.get("socket"), str):
            return None
        session = record.get("session")
        binding = LoginBinding(session["cookie"], session["digest"]) if session else None
        access = Access.from_json(record["access"]) if "access" in record else None
        return TokenRecord(record["socket"], binding, access)

    def revoke(self, token_digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(token_digest, dir_fd=self._directory_fd())

    def sweep(self) -> int:
        """Remove expired and unreadable records; return how many went."""
        removed = 0
        now = time.time()
        directory = self._directory_fd()
        for name, status in entries(directory):
            if name.startswith(".") and now - status.st_mtime < IN_PROGRESS_GRACE:
                continue  # being written by issue()
            try:
                expires = json.loads(_read_record(directory, name)).get("expires", 0)
            except (OSError, ValueError, AttributeError):
                expires = 0
            if expires < now and _unlink(directory, name, status):
                removed += 1
        return removed

    def clear(self) -> None:
        directory = self._directory_fd()
        for name, status in entries(directory):
            _unlink(directory, name, status)


def _read_record(directory: int, name: str) -> bytes:
    """A token file's bytes: a regular file of this user, never through a link."""
    fd = os.open(name, _READ_FILE, dir_fd=directory)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
            raise ValueError(f"{name}: not a token file of this user")
        return os.read(fd, MAX_RECORD)
    finally:
        os.close(fd)


def _unlink(directory: int, name: str, status: os.stat_result) -> bool:
    if stat.S_ISDIR(status.st_mode):
        return False  # nothing this store makes; left for whoever did
    try:
        os.unlink(name, dir_fd=directory)
    except FileNotFoundError:
        return False
    return True
