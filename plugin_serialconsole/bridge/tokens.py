"""One-time console tokens, shared between the host and the websockify process.

A token is 256 random bits from ``secrets``. Only its SHA-256 digest is stored, as the name
of a file in the token directory holding the name of the console socket it opens and the
expiry time. Consuming a
token unlinks that file: whichever process unlinks it first wins, so a token opens at most
one connection, even across websockify's per-connection processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN_BYTES = 32
IN_PROGRESS_GRACE = 60.0
_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return 40 <= len(token) <= 64 and set(token) <= _TOKEN_ALPHABET


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


@dataclass(frozen=True)
class LoginBinding:
    """The login session a token belongs to: its cookie's name and the value's SHA-256."""

    cookie: str
    digest: str


@dataclass(frozen=True)
class TokenRecord:
    socket: str  # the name of the console socket it opens
    binding: LoginBinding | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    digest: str
    expires_at: float


class TokenStore:
    """Hashed, single-use, expiring tokens kept as files in one private directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def create_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def issue(self, socket: str, ttl: float, binding: LoginBinding | None = None) -> IssuedToken:
        """A token that opens console socket ``socket`` (its name) once, for ``ttl`` s."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        issued = IssuedToken(token, digest(token), time.time() + ttl)
        fields = {"socket": socket, "expires": issued.expires_at}
        if binding is not None:
            fields["session"] = {"cookie": binding.cookie, "digest": binding.digest}
        record = json.dumps(fields).encode()
        temporary = self.directory / f".{issued.digest}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, record)
        finally:
            os.close(fd)
        os.replace(temporary, self.directory / issued.digest)
        return issued

    def consume(self, token: str) -> TokenRecord | None:
        """What the token opens, or None if unknown, used or expired."""
        if not looks_like_token(token):
            return None
        path = self.directory / digest(token)
        try:
            record = json.loads(path.read_bytes())
            path.unlink()
        except (FileNotFoundError, ValueError):
            return None
        if record.get("expires", 0) < time.time() or not isinstance(record.get("socket"), str):
            return None
        session = record.get("session")
        binding = LoginBinding(session["cookie"], session["digest"]) if session else None
        return TokenRecord(record["socket"], binding)

    def revoke(self, token_digest: str) -> None:
        (self.directory / token_digest).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Remove expired and unreadable records; return how many went."""
        removed = 0
        now = time.time()
        for path in self.directory.iterdir():
            if path.name.startswith(".") and _age(path) < IN_PROGRESS_GRACE:
                continue  # being written by issue()
            try:
                expires = json.loads(path.read_bytes()).get("expires", 0)
            except (OSError, ValueError, AttributeError):
                expires = 0
            if expires < now:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def clear(self) -> None:
        for path in self.directory.iterdir():
            path.unlink(missing_ok=True)
