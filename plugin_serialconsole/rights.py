"""Who may do what to which guest: the rights policy the REST API and the token check share.

Rights are granted, never denied, by rules in a rights file (``[serialconsole]
rights_file``), one rule a line::

    # who        guests       rights
    alice        web-*        console
    @ops         *            takeover power
    @auditors    *            view audit
    *            demo         view

*who* is an operator, ``@group`` (a group the users file gives operators) or ``*``
(every operator); *guests* a pattern on the guest's name (``guestpatterns``: ``*``, ``?``,
``[...]``; quote it with ``"`` when it holds spaces or ``#``); *rights* any of ``view``,
``console``, ``takeover``, ``power``, ``audit`` or ``all``. An operator's rights on a guest
are those of every rule that matches. Every right includes ``view`` (one acts only on a
guest one sees) and ``takeover`` includes ``console``.

No rights file configured: every operator has every right. A rights file configured: what
no rule grants is denied. The file is read again whenever it changes; a file that cannot
be read or used (a bad line, writable by others) never grants more: the rules read last
stay, and the log says why.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.errors import SerialConsoleError, not_found
from plugin_serialconsole.guestpatterns import matches, split_words
from plugin_serialconsole.hookspecs import Identity

log = logging.getLogger(__name__)

VIEW = "view"  # watch a console, read its transcript and the guest's log
CONSOLE = "console"  # write to a console
TAKEOVER = "takeover"  # force another writer off
POWER = "power"  # start the guest, send it SysRq, NMI, Break, Ctrl+Alt+Del
AUDIT = "audit"  # read the audit trail of the guest's consoles
RIGHTS = (VIEW, CONSOLE, TAKEOVER, POWER, AUDIT)
ALL = "all"
EVERY_RIGHT = frozenset(RIGHTS)
_IMPLIED = {VIEW: {VIEW}, CONSOLE: {VIEW, CONSOLE}, TAKEOVER: {VIEW, CONSOLE, TAKEOVER}}
EVERYONE = "*"
GROUP_PREFIX = "@"


class RulesError(ValueError):
    """A rights file that cannot be used, and why."""


@dataclass(frozen=True)
class Subject:
    """Whom rights are checked for: an operator, their groups, and whether they hold every
    right whatever the rules say (``--auth none``, a Wok administrator)."""

    user: str
    groups: frozenset[str] = frozenset()
    all_rights: bool = False


def subject_of(identity: Identity) -> Subject:
    return Subject(identity.user, frozenset(identity.groups), identity.all_rights)


def mode_right(mode: str) -> str:
    """The right a console client of ``mode`` needs."""
    return CONSOLE if mode == consoles.WRITE else VIEW


@dataclass(frozen=True)
class Access:
    """What a console token was issued for, checked again when it is used: ``subject``
    needs ``right`` on the guest named ``guest``. Carried in the token's record."""

    subject: Subject
    guest: str
    right: str

    def as_json(self) -> dict[str, Any]:
        subject = self.subject
        return {
            "user": subject.user,
            "groups": sorted(subject.groups),
            "all_rights": subject.all_rights,
            "guest": self.guest,
            "right": self.right,
        }

    @classmethod
    def from_json(cls, fields: object) -> Access | None:
        """The access ``fields`` describe, or None if they are not one."""
        try:
            if not isinstance(fields["groups"], list):
                return None
            groups = frozenset(fields["groups"])
            subject = Subject(fields["user"], groups, fields["all_rights"] is True)
            access = cls(subject, fields["guest"], fields["right"])
        except (TypeError, KeyError):
            return None
        texts = (subject.user, access.guest, access.right, *groups)
        return access if all(isinstance(text, str) for text in texts) else None

    @classmethod
    def of_client(cls, identity: Identity | None, guest: str, mode: str) -> Access | None:
        """What a token for a ``mode`` client of ``identity`` on ``guest`` needs."""
        if identity is None:
            return None
        return cls(subject_of(identity), guest, mode_right(mode))


@dataclass(frozen=True)
class Rule:
    who: str  # an operator, @group or *
    guests: str  # a pattern on the guest's name
    rights: frozenset[str]

    def applies(self, subject: Subject, guest: str) -> bool:
        if self.who == EVERYONE:
            matched = True
        elif self.who.startswith(GROUP_PREFIX):
            matched = self.who[1:] in subject.groups
        else:
            matched = self.who == subject.user
        return matched and matches(guest, self.guests)


def expand(names: list[str]) -> frozenset[str]:
    """The rights ``names`` grant, implied ones included; RulesError for an unknown one."""
    granted: set[str] = set()
    for name in names:
        if name == ALL:
            granted |= EVERY_RIGHT
        elif name in RIGHTS:
            granted |= _IMPLIED.get(name, {VIEW, name})
        else:
            raise RulesError(f"unknown right {name!r} (rights: {', '.join(RIGHTS)}, {ALL})")
    return frozenset(granted)


def parse_rules(text: str) -> tuple[Rule, ...]:
    """The rules of a rights file's ``text``; RulesError naming the first bad line."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            words = split_words(line, comments=True)
        except ValueError as error:
            raise RulesError(f"line {number}: {error}") from None
        if not words:
            continue
        if len(words) < 3:
            raise RulesError(f"line {number}: expected: who guests right...")
        who, guests, *names = words
        if who in ("", GROUP_PREFIX) or not guests:
            raise RulesError(f"line {number}: empty operator, group or guest pattern")
        try:
            rules.append(Rule(who, guests, expand(names)))
        except RulesError as error:
            raise RulesError(f"line {number}: {error}") from None
    return tuple(rules)


Stamp = tuple[int, int, int, int]  # a file's change and modification times, size, inode
_UNSEEN = object()


class RightsFile:
    """The rules of the file at ``path``, read again whenever it changes; a version of the
    file that cannot be used keeps the rules read last, and is reported once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: object = _UNSEEN  # the stamp of the file last looked at; None: missing
        self._rules: tuple[Rule, ...] = ()

    def load(self) -> RightsFile:
        """Read the file now: RulesError if it cannot be used (at start, nothing to keep)."""
        with self._lock:
            self._seen = self._stamp()
            try:
                self._rules = self._parse()
            except RulesError as error:
                raise RulesError(f"rights file {self.path}: {error}") from None
        return self

    def rules(self) -> tuple[Rule, ...]:
        with self._lock:
            stamp = self._stamp()
            if stamp == self._seen:
                return self._rules
            first, self._seen = self._seen is _UNSEEN, stamp
            try:
                self._rules = self._parse()
            except RulesError as error:
                kept = "nothing is granted" if first else "the rules read before stay"
                log.error("rights file %s: %s; %s", self.path, error, kept)
            else:
                if not first:
                    log.info("rights file %s read again: %d rules", self.path, len(self._rules))
            return self._rules

    def _stamp(self) -> Stamp | None:
        try:
            status = self.path.stat()
        except OSError:
            return None
        return (status.st_ctime_ns, status.st_mtime_ns, status.st_size, status.st_ino)

    def _parse(self) -> tuple[Rule, ...]:
        """The rules of the file as opened: checked on that open file, so a file swapped in
        between a check and the read is the one checked."""
        try:
            with open(self.path, "rb") as file:
                _check_private(os.fstat(file.fileno()))
                return parse_rules(file.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise RulesError(str(error)) from None


def _check_private(status: os.stat_result) -> None:
    """Only its owner (this service's user or root) may change who has which rights."""
    if not stat.S_ISREG(status.st_mode):
        raise RulesError("not a regular file")
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RulesError("writable by its group or others: they could grant themselves rights")
    if status.st_uid not in (os.geteuid(), 0):
        raise RulesError(f"owned by user id {status.st_uid}, neither this service's user nor root")


class Rights:
    """The policy: ``rights_file`` None grants everyone everything."""

    def __init__(self, rights_file: RightsFile | None = None) -> None:
        self.rights_file = rights_file

    @classmethod
    def from_path(cls, path: str | Path | None) -> Rights:
        """The policy of the rights file at ``path`` (read now; RulesError if unusable),
        or, without a path, everyone's every right."""
        return cls(RightsFile(Path(path)).load() if path else None)

    @property
    def enforced(self) -> bool:
        return self.rights_file is not None

    def of(self, subject: Subject, guest: str) -> frozenset[str]:
        """The rights ``subject`` has on the guest named ``guest``."""
        if subject.all_rights or self.rights_file is None:
            return EVERY_RIGHT
        granted: set[str] = set()
        for rule in self.rights_file.rules():
            if rule.applies(subject, guest):
                granted |= rule.rights
        return frozenset(granted)

    def narrowed(self, identity: Identity) -> Identity:
        """``identity`` with only the groups the rules name: what a console token carries
        for its check at the WebSocket (an operator in hundreds of directory groups would
        not fit a token record; a group no rule names grants nothing anyway)."""
        if self.rights_file is None:
            named: frozenset[str] = frozenset()
        else:
            rules = self.rights_file.rules()
            named = frozenset(r.who[1:] for r in rules if r.who.startswith(GROUP_PREFIX))
        return dataclasses.replace(identity, groups=identity.groups & named)

    def everywhere(self, subject: Subject, right: str) -> bool:
        """Whether ``subject`` has ``right`` on every guest: by a rule for ``*`` guests,
        every right, or no rules at all."""
        if subject.all_rights or self.rights_file is None:
            return True
        return any(
            rule.guests == EVERYONE and right in rule.rights and rule.applies(subject, EVERYONE)
            for rule in self.rights_file.rules()
        )

    def allows(self, subject: Subject, guest: str, right: str) -> bool:
        return right in self.of(subject, guest)

    def require(self, identity: Identity, guest: str, right: str, asked_as: str = "") -> None:
        """Raise unless ``identity`` has ``right`` on the guest named ``guest``: 404 (as
        for a guest that does not exist, named ``asked_as`` as the client did) without
        ``view``, else 403. Every check of a request goes through here."""
        granted = self.of(subject_of(identity), guest)
        if right in granted:
            return
        log.warning("operator %s denied %s on guest %s", identity.user, right, guest)
        if VIEW not in granted:
            raise not_found(asked_as or guest)
        raise SerialConsoleError(
            i18n.RIGHT_DENIED, 403, user=identity.user, right=right, guest=guest
        )


def ordered(granted: frozenset[str]) -> list[str]:
    """``granted`` in the order rights are documented, for JSON."""
    return [right for right in RIGHTS if right in granted]
