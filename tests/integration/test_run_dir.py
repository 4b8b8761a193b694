"""A run directory another user could change is refused before anything is done in it.

Whoever can write to the run directory, or to ``consoles/`` or ``tokens/`` below it, can
delete the host's files (tokens are cleared at start) and forge a token file that opens
someone else's console with no credentials. The host must exit 2, say why, and leave
everything it found there as it was: no chmod through a link, nothing cleared.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plugin_serialconsole.bridge.tokens import digest

from .helpers import run_refused_host

NOBODY = 65534
FORGED_TOKEN = "forged-token-forged-token-forged-token-forged"


def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")


def _forge_token(tokens: Path) -> None:
    """What an attacker with write access to tokens/ would leave there."""
    record = {"socket": "0" * 24, "expires": 2e9}
    (tokens / digest(FORGED_TOKEN)).write_text(json.dumps(record))


def other_users_run_dir(base: Path) -> Path:
    _root_only()
    run_dir = base / "run"
    run_dir.mkdir(mode=0o700)
    (run_dir / "tokens").mkdir(mode=0o700)
    _forge_token(run_dir / "tokens")
    for path in (run_dir, run_dir / "tokens", *(run_dir / "tokens").iterdir()):
        os.chown(path, NOBODY, NOBODY)
    return run_dir


def world_writable_run_dir(base: Path) -> Path:
    run_dir = base / "run"
    run_dir.mkdir()
    run_dir.chmod(0o777)
    return run_dir


def symlinked_run_dir(base: Path) -> Path:
    target = base / "target"
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    (base / "run").symlink_to(target)
    return base / "run"


def symlinked_tokens_dir(base: Path) -> Path:
    run_dir, elsewhere = base / "run", base / "elsewhere"
    run_dir.mkdir(mode=0o700)
    elsewhere.mkdir(mode=0o700)
    _forge_token(elsewhere)
    (run_dir / "tokens").symlink_to(elsewhere)
    return run_dir


def other_users_consoles_dir(base: Path) -> Path:
    _root_only()
    run_dir = base / "run"
    run_dir.mkdir(mode=0o700)
    (run_dir / "consoles").mkdir(mode=0o700)
    os.chown(run_dir / "consoles", NOBODY, NOBODY)
    return run_dir


def _tree(base: Path) -> dict[str, tuple[int, int, bytes | str | None]]:
    """Every path below ``base``: owner, mode, and a file's bytes or a link's target."""
    found = {}
    for directory, names, files in os.walk(base):
        for name in names + files:
            path = Path(directory, name)
            status = path.lstat()
            content = (
                str(path.readlink())
                if path.is_symlink()
                else path.read_bytes()
                if path.is_file()
                else None
            )
            found[str(path.relative_to(base))] = (status.st_uid, status.st_mode, content)
    return found


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="scrd", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (other_users_run_dir, "run is owned by uid 65534, not by this user"),
        (world_writable_run_dir, "run is writable by other users (mode 0777)"),
        (symlinked_run_dir, "run is a symbolic link"),
        (symlinked_tokens_dir, "run/tokens is a symbolic link"),
        (other_users_consoles_dir, "run/consoles is owned by uid 65534"),
    ],
)
def test_run_dir_others_could_change_is_refused_untouched(
    base: Path, layout: Callable[[Path], Path], message: str
):
    run_dir = layout(base)
    before = _tree(base)
    result = run_refused_host(run_dir)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    after = _tree(base)
    changed = {path: after.get(path) for path, state in before.items() if after.get(path) != state}
    assert not changed, "the host changed what it found in a directory it refused"
