"""Which guests' consoles the host captures, and where their logs are kept.

``capture = all`` captures every running guest's console devices when the guest matches
one of ``capture_include`` (all, when empty) and none of ``capture_exclude``: guest
patterns as ``guestpatterns`` reads them for the rights file too, optionally naming the
hypervisor (e.g. ``prod:* *:db-? web-*``); ``capture = none`` captures nothing. The logs
live under the state directory (``state_dir``): systemd's ``StateDirectory``, else
``/var/lib/serialconsole`` for root, else the user's XDG state directory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from plugin_serialconsole.guestpatterns import GuestPattern, covers_any, parse_patterns

log = logging.getLogger(__name__)

CAPTURE_MODES = ("all", "none")
LOGS = "logs"  # the state directory's sub-directory of capture logs


def default_state_dir() -> Path:
    """systemd's ``StateDirectory``, else /var/lib for root, else the XDG state dir."""
    if state_directory := os.environ.get("STATE_DIRECTORY"):
        return Path(state_directory.split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/serialconsole")
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "serialconsole"


@dataclass(frozen=True)
class CapturePolicy:
    enabled: bool
    include: tuple[GuestPattern, ...]
    exclude: tuple[GuestPattern, ...]
    state_dir: Path

    @classmethod
    def from_values(cls, mode: str, include: str, exclude: str, state_dir: str) -> CapturePolicy:
        mode = mode.strip().lower()
        if mode not in CAPTURE_MODES:
            raise ValueError(f"capture: one of {', '.join(CAPTURE_MODES)}, not {mode!r}")
        directory = Path(state_dir.strip()) if state_dir.strip() else default_state_dir()
        if not directory.is_absolute():
            raise ValueError(f"state_dir: not an absolute path: {state_dir!r}")
        patterns = []
        for key, text in (("capture_include", include), ("capture_exclude", exclude)):
            try:
                patterns.append(parse_patterns(text))
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None
        return cls(mode == "all", *patterns, directory)

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / LOGS

    def captures(self, hypervisor: str, guest_name: str) -> bool:
        """Whether the consoles of the guest named ``guest_name`` on ``hypervisor`` are
        captured."""
        if not self.enabled:
            return False
        if self.include and not covers_any(self.include, hypervisor, guest_name):
            return False
        return not covers_any(self.exclude, hypervisor, guest_name)

    def report_unmatched(self, hypervisors: Iterable[str]) -> int:
        """Log each pattern whose hypervisor pattern matches none of ``hypervisors`` (the
        host's): it selects nothing until one is configured. Returns how many."""
        names = sorted(hypervisors)
        count = 0
        for key, patterns in (("capture_include", self.include), ("capture_exclude", self.exclude)):
            for pattern in patterns:
                if not pattern.names_any(names):
                    count += 1
                    log.warning(
                        "%s: no hypervisor matches %r (hypervisors: %s): the pattern selects "
                        'no guest (for a guest whose name holds the colon, quote it: "%s")',
                        key, pattern.hypervisors, ", ".join(names), pattern,
                    )  # fmt: skip
        return count
