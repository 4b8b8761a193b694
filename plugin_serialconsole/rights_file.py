"""The rights file (``[serialconsole] rights_file``): its rules, and the file read again
whenever it changes. What the rules grant to whom is ``rights``'s policy.

One rule a line::

    # who        guests       rights
    alice        web-*        console
    @ops         *            takeover power
    @auditors    *            view audit
    *            demo         view

*who* is an operator, ``@group`` (a group the users file gives operators) or ``*``
(every operator); *guests* a pattern on the guest's name (``guestpatterns``: ``*``, ``?``,
``[...]``; quote it with ``"`` when it holds spaces or ``#``); *rights* any of ``view``,
``console``, ``takeover``, ``power``, ``audit`` or ``all``. Every right includes ``view``
(one acts only on a guest one sees) and ``takeover`` includes ``console``.

A file that cannot be read or used (a bad line, writable by others) never grants more:
the rules read last stay, and the log says why.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from plugin_serialconsole.guestpatterns import matches, split_words

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
EVERYONE = "*"  # every operator; as a pattern, every guest
GROUP_PREFIX = "@"


class RulesError(ValueError):
    """A rights file that cannot be used, and why."""


@dataclass(frozen=True)
class Rule:
    who: str  # an operator, @group or *
    guests: str  # a pattern on the guest's name
    rights: frozenset[str]

    def covers(self, guest: str) -> bool:
        """Whether the rule is about the guest named ``guest``."""
        return matches(guest, self.guests)


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
