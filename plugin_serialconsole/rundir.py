"""Private directories under the run directory, opened without following links.

Console sockets and token files live in directories only the host's user may change:
a token file there opens a console with no further credentials. So a directory is used
only if it is a real directory (not a symbolic link), owned by the user the process runs
as, and writable by nobody else; what is below it is reached through its file descriptor.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from plugin_serialconsole.ids import check_socket_dir

PRIVATE_MODE = 0o700
_OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeDirectory(ValueError):
    """A directory the host must not keep its sockets or tokens in; says why."""


def open_private_dir(path: Path, create: bool = False) -> int:
    """A file descriptor of directory ``path``, made ``0700``; created first if ``create``.

    Refuses (``UnsafeDirectory``) a symbolic link, anything but a directory, a directory
    owned by another user, or one that others may write to.
    """
    if create:
        try:
            os.mkdir(path, PRIVATE_MODE)
        except FileExistsError:
            pass  # checked below, like any directory found there
        except OSError as error:
            raise UnsafeDirectory(f"cannot create {path}: {error.strerror}") from None
    try:
        fd = os.open(path, _OPEN_DIRECTORY)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeDirectory(_not_a_directory(path)) from None
        raise UnsafeDirectory(f"{path}: {error.strerror}") from None
    try:
        _check_private(path, os.fstat(fd))
        os.fchmod(fd, PRIVATE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_private_dir(path: Path, create: bool = False) -> None:
    """``open_private_dir`` for its checks only."""
    os.close(open_private_dir(path, create))


def entries(directory_fd: int) -> Iterator[tuple[str, os.stat_result]]:
    """The names in a directory with their own status (links not followed).

    Listed through a descriptor of its own, so threads listing the same directory do
    not share a read position.
    """
    own = os.open(".", _OPEN_DIRECTORY, dir_fd=directory_fd)
    try:
        names = os.listdir(own)
    finally:
        os.close(own)
    for name in names:
        try:
            yield name, os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue


def remove_sockets(directory: Path) -> int:
    """Unlink the Unix sockets directly in private ``directory``; return how many went."""
    removed = 0
    fd = open_private_dir(directory)
    try:
        for name, status in entries(fd):
            if stat.S_ISSOCK(status.st_mode):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=fd)
                    removed += 1
    finally:
        os.close(fd)
    return removed


def _check_private(path: Path, status: os.stat_result) -> None:
    user = os.geteuid()
    if status.st_uid != user:
        raise UnsafeDirectory(
            f"{path} is owned by uid {status.st_uid}, not by this user (uid {user}); "
            "its owner could delete the host's files or forge console tokens there: "
            "remove it, or choose another --run-dir"
        )
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDirectory(
            f"{path} is writable by other users (mode {stat.S_IMODE(status.st_mode):04o}); "
            "they could forge console tokens there: make it 0700, or choose another --run-dir"
        )


def _not_a_directory(path: Path) -> str:
    try:
        is_link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        is_link = False
    if is_link:
        return (
            f"{path} is a symbolic link; links are not followed here: give the real "
            "directory's path"
        )
    return f"{path} is not a directory"


def prepare_run_dir(run_dir: Path) -> None:
    """Make the run directory (0700) unless it exists; refuse one that is not private."""
    check_socket_dir(run_dir / "consoles")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    check_private_dir(run_dir, create=True)
