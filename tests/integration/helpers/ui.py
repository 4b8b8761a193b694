"""Web UI directories and config files for hosts that tests start."""

from __future__ import annotations

import shutil
from pathlib import Path

CHECKOUT_UI = Path(__file__).resolve().parents[3] / "ui"


def ui_without_xterm(directory: Path) -> Path:
    """A copy of the checkout's ui/ where xterm.js never arrived (npm ci not run): pages,
    scripts, styles and page catalogs, no node_modules. Returns ``directory``."""
    shutil.copytree(CHECKOUT_UI, directory, ignore=shutil.ignore_patterns("node_modules"))
    return directory


def config_file(directory: Path, section: str, **keys: str) -> Path:
    """``directory/serialconsole.conf`` with ``keys`` in ``[section]``; its path."""
    path = directory / "serialconsole.conf"
    lines = [f"[{section}]", *(f"{key} = {value}" for key, value in keys.items())]
    path.write_text("\n".join(lines) + "\n")
    return path
