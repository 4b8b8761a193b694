"""The rights file (``[serialconsole] rights_file``): its rules, and the file read again
whenever it changes. What the rules grant to whom is ``rights``'s policy.

One rule a line::

    # who        guests           rights
    alice        web-*            console
    @ops         prod:*           takeover power
    @lab         lab:*            all
    @auditors    *                view audit
    *            demo             view

*who* is an operator, ``@group`` (a group the users file gives operators) or ``*``
(every operator); *guests* a guest pattern as ``guestpatterns`` reads it (``*``, ``?``,
``[...]``; quoted with ``"`` when it holds spaces or ``#``), optionally after the
hypervisor's: ``hypervisor:guest``. Without a hypervisor a rule is about the guests of
that name on every hypervisor. *rights* are any of ``view``, ``console``, ``takeover``,
``power``, ``audit`` or ``all``; every right includes ``view`` (one acts only on a guest
one sees) and ``takeover`` includes ``console``.

A rule whose hypervisor pattern matches none of the host's hypervisors is kept (it grants
nothing until one of that name is configured) and the log says so each time the file is
read. A file that cannot be read or used (a bad line, writable by others) never grants
more: the rules read last stay, and the log says why.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from plugin_serialconsole.guestpatterns import ANY, GuestPattern, Word, guest_pattern, scan_words

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
EVERYONE = "*"  # every operator; as a pattern, every guest or hypervisor
GROUP_PREFIX = "@"


class RulesError(ValueError):
    """A rights file that cannot be used, and why."""


@dataclass(frozen=True)
class Rule:
    who: str  # an operator, @group or *
    target: GuestPattern  # the guests it is about (its hypervisors: * when it names none)
    rights: frozenset[str]
    line: int = 0  # where in the file

    def covers(self, hypervisor: str, guest: str) -> bool:
        """Whether the rule is about the guest named ``guest`` on ``hypervisor``."""
        return self.target.covers(hypervisor, guest)

    def covers_every_guest(self, hypervisor: str | None) -> bool:
        """Whether the rule is about every guest of ``hypervisor`` (None: of every one,
        those to come included)."""
        if self.target.guests != EVERYONE:
            return False
        if hypervisor is None:
            return self.target.hypervisors == ANY
        return self.target.names_any([hypervisor])


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
            words = scan_words(line, comments=True)
            if not words:
                continue
            rules.append(_rule(words, number))
        except ValueError as error:  # RulesError too
            raise RulesError(f"line {number}: {error}") from None
    return tuple(rules)


def _rule(words: list[Word], number: int) -> Rule:
    if len(words) < 3:
        raise RulesError("expected: who guests right...")
    who, target, *names = words
    if who.text in ("", GROUP_PREFIX) or not target.text:
        raise RulesError("empty operator, group or guest pattern")
    return Rule(who.text, guest_pattern(target), expand([name.text for name in names]), number)


def report_unmatched(rules: Iterable[Rule], hypervisors: Iterable[str], where: str) -> int:
    """Log each rule of ``rules`` whose hypervisor pattern matches none of ``hypervisors``
    (the host's): it grants nothing until one is configured. Returns how many."""
    names = sorted(hypervisors)
    unmatched = [rule for rule in rules if not rule.target.names_any(names)]
    for rule in unmatched:
        log.warning(
            "%s, line %d: no hypervisor matches %r (hypervisors: %s): the rule grants "
            'nothing (for a guest whose name holds the colon, quote it: "%s")',
            where, rule.line, rule.target.hypervisors, ", ".join(names), rule.target,
        )  # fmt: skip
    return len(unmatched)


Stamp = tuple[int, int, int, int]  # a file's change and modification times, size, inode
_UNSEEN = object()


class RightsFile:
    """The rules of the file at ``path``, read again whenever it changes; a version of the
    file that cannot be used keeps the rules read last, and is reported once. Given the
    host's ``hypervisors``, each version's rules for none of them are reported too."""

    def __init__(self, path: Path, hypervisors: Iterable[str] = ()) -> None:
        self.path = path
        self.hypervisors = tuple(hypervisors)
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
                rules = parse_rules(file.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise RulesError(str(error)) from None
        if self.hypervisors:
            report_unmatched(rules, self.hypervisors, f"rights file {self.path}")
        return rules


def _check_private(status: os.stat_result) -> None:
    """Only its owner (this service's user or root) may change who has which rights."""
    if not stat.S_ISREG(status.st_mode):
        raise RulesError("not a regular file")
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RulesError("writable by its group or others: they could grant themselves rights")
    if status.st_uid not in (os.geteuid(), 0):
        raise RulesError(f"owned by user id {status.st_uid}, neither this service's user nor root")
