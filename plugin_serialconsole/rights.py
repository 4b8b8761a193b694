"""Who may do what to which guest: the rights policy the REST API and the token check share.

Rights are granted, never denied, by the rules of a rights file (``rights_file``: the
rules' syntax, and the file read again when it changes). A rule names the guests it is
about by name, and optionally by hypervisor (``prod:web-*``); the policy is asked about
one guest of one hypervisor, so a same-named guest, or a copy with its UUID, on another
hypervisor has rights of its own. An operator's rights on a guest are those of every rule
that matches.

No rights file configured: every operator has every right. A rights file configured: what
no rule grants is denied. A file that cannot be read or used never grants more (see
``rights_file``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.errors import SerialConsoleError, not_found
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.rights_file import (
    ALL,
    AUDIT,
    CONSOLE,
    EVERY_RIGHT,
    EVERYONE,
    GROUP_PREFIX,
    POWER,
    RIGHTS,
    TAKEOVER,
    VIEW,
    RightsFile,
    Rule,
    RulesError,
    parse_rules,
)

__all__ = [
    "ALL", "AUDIT", "CONSOLE", "EVERY_RIGHT", "POWER", "RIGHTS", "TAKEOVER", "VIEW",
    "Access", "Rights", "RightsFile", "RulesError", "Subject", "mode_right", "ordered",
    "parse_rules", "subject_of",
]  # fmt: skip

log = logging.getLogger(__name__)


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
    needs ``right`` on the guest named ``guest`` of ``hypervisor``. Carried in the token's
    record; a record without a hypervisor is none (it grants nothing)."""

    subject: Subject
    hypervisor: str
    guest: str
    right: str

    def as_json(self) -> dict[str, Any]:
        subject = self.subject
        return {
            "user": subject.user,
            "groups": sorted(subject.groups),
            "all_rights": subject.all_rights,
            "hypervisor": self.hypervisor,
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
            access = cls(subject, fields["hypervisor"], fields["guest"], fields["right"])
        except (TypeError, KeyError):
            return None
        texts = (subject.user, access.hypervisor, access.guest, access.right, *groups)
        return access if all(isinstance(text, str) for text in texts) else None

    @classmethod
    def of_client(
        cls, identity: Identity | None, hypervisor: str, guest: str, mode: str
    ) -> Access | None:
        """What a token for a ``mode`` client of ``identity`` on the guest named ``guest``
        of ``hypervisor`` needs."""
        if identity is None:
            return None
        return cls(subject_of(identity), hypervisor, guest, mode_right(mode))


def _names(rule: Rule, subject: Subject) -> bool:
    """Whether ``rule`` is for ``subject``: them, a group of theirs, or everyone."""
    if rule.who == EVERYONE:
        return True
    if rule.who.startswith(GROUP_PREFIX):
        return rule.who[1:] in subject.groups
    return rule.who == subject.user


class Rights:
    """The policy: ``rights_file`` None grants everyone everything."""

    def __init__(self, rights_file: RightsFile | None = None) -> None:
        self.rights_file = rights_file

    @classmethod
    def from_path(cls, path: str | Path | None, hypervisors: Iterable[str] = ()) -> Rights:
        """The policy of the rights file at ``path`` (read now; RulesError if unusable),
        or, without a path, everyone's every right. Its rules for none of the host's
        ``hypervisors`` are logged, each time the file is read."""
        return cls(RightsFile(Path(path), hypervisors).load() if path else None)

    @property
    def enforced(self) -> bool:
        return self.rights_file is not None

    def of(self, subject: Subject, hypervisor: str, guest: str) -> frozenset[str]:
        """The rights ``subject`` has on the guest named ``guest`` of ``hypervisor``."""
        if subject.all_rights or self.rights_file is None:
            return EVERY_RIGHT
        granted: set[str] = set()
        for rule in self.rights_file.rules():
            if _names(rule, subject) and rule.covers(hypervisor, guest):
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

    def everywhere(self, subject: Subject, right: str, hypervisor: str | None = None) -> bool:
        """Whether ``subject`` has ``right`` on every guest of ``hypervisor`` (None: of
        every hypervisor): by a rule for ``*`` guests (``hypervisor:*``, or ``*`` for
        every hypervisor), every right, or no rules at all."""
        if subject.all_rights or self.rights_file is None:
            return True
        return any(
            right in rule.rights and _names(rule, subject) and rule.covers_every_guest(hypervisor)
            for rule in self.rights_file.rules()
        )

    def allows(self, subject: Subject, hypervisor: str, guest: str, right: str) -> bool:
        return right in self.of(subject, hypervisor, guest)

    def require(
        self, identity: Identity, hypervisor: str, guest: str, right: str, asked_as: str = ""
    ) -> None:
        """Raise unless ``identity`` has ``right`` on the guest named ``guest`` of
        ``hypervisor``: 404 (as for a guest that does not exist, named ``asked_as`` as the
        client did) without ``view``, else 403. Every check of a request goes through here."""
        granted = self.of(subject_of(identity), hypervisor, guest)
        if right in granted:
            return
        log.warning(
            "operator %s denied %s on guest %s (hypervisor %s)",
            identity.user, right, guest, hypervisor,
        )  # fmt: skip
        if VIEW not in granted:
            raise not_found(asked_as or guest)
        raise SerialConsoleError(
            i18n.RIGHT_DENIED, 403, user=identity.user, right=right, guest=guest
        )


def ordered(granted: frozenset[str]) -> list[str]:
    """``granted`` in the order rights are documented, for JSON."""
    return [right for right in RIGHTS if right in granted]
