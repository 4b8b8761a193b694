"""Private directories: opened without following links, only when nobody else may write."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from plugin_serialconsole.rundir import (
    UnsafeDirectory,
    check_private_dir,
    open_private_dir,
    remove_sockets,
)

NOBODY = 65534


def test_creates_a_private_directory(tmp_path):
    check_private_dir(tmp_path / "run", create=True)
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o700


def test_own_directory_is_made_private(tmp_path):
    (tmp_path / "run").mkdir(mode=0o755)
    (tmp_path / "run").chmod(0o755)
    check_private_dir(tmp_path / "run")
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o700


def test_symbolic_link_is_refused_and_its_target_left_alone(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    target.chmod(0o755)
    (tmp_path / "run").symlink_to(target)
    with pytest.raises(UnsafeDirectory, match="is a symbolic link"):
        open_private_dir(tmp_path / "run", create=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_dangling_symbolic_link_is_refused(tmp_path):
    (tmp_path / "run").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UnsafeDirectory, match="is a symbolic link"):
        open_private_dir(tmp_path / "run", create=True)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_directory_others_may_write_is_refused(tmp_path, mode):
    (tmp_path / "run").mkdir()
    (tmp_path / "run").chmod(mode)
    with pytest.raises(UnsafeDirectory, match="writable by other users"):
        open_private_dir(tmp_path / "run")
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == mode


def test_directory_of_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    (tmp_path / "run").mkdir(mode=0o700)
    os.chown(tmp_path / "run", NOBODY, NOBODY)
    with pytest.raises(UnsafeDirectory, match="owned by uid 65534"):
        open_private_dir(tmp_path / "run")


def test_a_file_is_not_a_directory(tmp_path):
    (tmp_path / "run").write_text("")
    with pytest.raises(UnsafeDirectory, match="is not a directory"):
        open_private_dir(tmp_path / "run", create=True)


def test_remove_sockets_unlinks_sockets_only_never_through_links(short_dir):
    elsewhere = short_dir / "elsewhere"
    elsewhere.mkdir()
    with socket.socket(socket.AF_UNIX) as outside, socket.socket(socket.AF_UNIX) as stale:
        outside.bind(str(elsewhere / "s"))
        run = short_dir / "run"
        run.mkdir(mode=0o700)
        stale.bind(str(run / "stale"))
    (run / "link").symlink_to(elsewhere / "s")
    (run / "file").write_text("")
    assert remove_sockets(run) == 1
    assert sorted(p.name for p in run.iterdir()) == ["file", "link"]
    assert (elsewhere / "s").is_socket()
