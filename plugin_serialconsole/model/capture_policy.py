"""Which guests' consoles the host captures, and where their logs are kept.

``capture = all`` captures every running guest's console devices whose guest name
matches one of ``capture_include`` (all, when empty) and none of ``capture_exclude``
(patterns as ``guestpatterns`` reads them, e.g. ``web-* db-?``); ``capture = none``
captures nothing. The
logs live under the state directory (``state_dir``): systemd's ``StateDirectory``, else
``/var/lib/serialconsole`` for root, else the user's XDG state directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from plugin_serialconsole.guestpatterns import matches_any, parse_patterns

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
    include: tuple[str, ...]
    exclude: tuple[str, ...]
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

    def captures(self, guest_name: str) -> bool:
        """Whether the consoles of the guest named ``guest_name`` are captured."""
        if not self.enabled:
            return False
        if self.include and not matches_any(guest_name, self.include):
            return False
        return not matches_any(guest_name, self.exclude)
