"""virtlogd + libvirtd for the real-guest tests: the running ones, or ones started here as root.

A libvirtd started here runs in a private mount namespace (``unshare --mount``), so nothing
outside it changes:

- ``/dev/kvm``, when it exists, is covered by an empty file nobody may open. Where
  ``/dev/kvm`` exists but QEMU cannot use KVM, libvirtd otherwise finds its cached QEMU
  capabilities stale on every domain start and probes QEMU again: ~45 s per start here,
  against ~0.5 s with the device covered (one ~4 s probe when the daemon starts).
- ``/etc/libvirt`` is a private copy whose ``qemu.conf`` says ``namespaces = []``: libvirt's
  per-guest ``/dev`` namespace cannot carry the covered ``/dev/kvm`` over (a file mount).

What this module starts, it stops; the ``libvirt-qemu`` user and groups it creates when they
are missing (as Debian's libvirt-daemon-system does) stay.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import libvirt

log = logging.getLogger(__name__)

URI = "qemu:///system"
QEMU_USER = "libvirt-qemu"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.1
VIRTLOGD_SOCKET = Path("/run/libvirt/virtlogd-sock")
DIRS = ("/run/libvirt", "/var/log/libvirt", "/var/lib/libvirt", "/var/cache/libvirt")
_NAMESPACE_SCRIPT = (
    'if [ -e /dev/kvm ]; then mount --bind "$1" /dev/kvm; fi; '
    'mount --bind "$2" /etc/libvirt; shift 2; exec "$@"'
)


def _quiet(_context: object, _error: tuple) -> None:
    """Keep libvirt from printing errors this module expects and handles."""


def unreachable(uri: str = URI) -> str | None:
    """None when a libvirtd answers at ``uri``; else why not."""
    libvirt.registerErrorHandler(_quiet, None)
    try:
        libvirt.open(uri).close()
    except libvirt.libvirtError as error:
        return error.get_error_message()
    return None


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(f"{name} is not installed (Debian: libvirt-daemon)")
    return found


def ensure_qemu_user() -> None:
    """The user and groups QEMU runs as under Debian's libvirt, created when missing."""
    for group in ("kvm", QEMU_USER):
        try:
            grp.getgrnam(group)
        except KeyError:
            subprocess.run(["groupadd", "--system", group], check=True)
    try:
        pwd.getpwnam(QEMU_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--gid", QEMU_USER, "--groups", "kvm",
             "--home-dir", "/var/lib/libvirt", "--no-create-home",
             "--shell", "/usr/sbin/nologin", QEMU_USER],
            check=True,
        )  # fmt: skip


class Daemons:
    """The libvirt daemons the tests use; ``started`` says whether this object owns them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.libvirtd: subprocess.Popen | None = None
        self.virtlogd: subprocess.Popen | None = None

    @property
    def started(self) -> bool:
        return self.libvirtd is not None

    def start(self) -> Daemons:
        """Start virtlogd (unless one answers) and libvirtd; return once libvirtd answers."""
        ensure_qemu_user()
        for directory in DIRS:
            Path(directory).mkdir(parents=True, exist_ok=True)
        self._prepare_namespace_files()
        if not _answers(VIRTLOGD_SOCKET):
            self.virtlogd = self._spawn("virtlogd", [program("virtlogd")])
        self._start_libvirtd()
        return self

    def _prepare_namespace_files(self) -> None:
        nokvm = self.workdir / "nokvm"
        nokvm.touch(mode=0o000)
        etc = self.workdir / "etc-libvirt"
        if not etc.exists():
            shutil.copytree("/etc/libvirt", etc, symlinks=True)
            conf = etc / "qemu.conf"
            kept = conf.read_text().splitlines() if conf.exists() else []
            kept = [line for line in kept if not line.strip().startswith("namespaces")]
            conf.write_text("\n".join([*kept, "namespaces = []", ""]))

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        with open(self.workdir / f"{name}.log", "ab") as out:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)

    def _start_libvirtd(self) -> None:
        command = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-ec", _NAMESPACE_SCRIPT, "sh",
            str(self.workdir / "nokvm"), str(self.workdir / "etc-libvirt"), program("libvirtd"),
        ]  # fmt: skip
        started = time.monotonic()
        self.libvirtd = self._spawn("libvirtd", command)
        deadline = started + READY_TIMEOUT
        while (why := unreachable()) is not None:
            if self.libvirtd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"libvirtd did not come up ({why}):\n{self.log('libvirtd')}")
            time.sleep(POLL_INTERVAL)
        log.info("libvirtd answers after %.1f s", time.monotonic() - started)

    def log(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / f"{name}.log").read_text(errors="replace")[-4000:]
        return "(no log)"

    def restart_libvirtd(self) -> None:
        """Stop the libvirtd started here and start a new one (guests keep running)."""
        if self.libvirtd is None:
            raise RuntimeError("libvirtd was not started by the test suite")
        stop_process(self.libvirtd)
        self._start_libvirtd()

    def stop(self) -> None:
        """Stop what ``start`` started: libvirtd first, then virtlogd."""
        for process in (self.libvirtd, self.virtlogd):
            if process is not None:
                stop_process(process)
        self.libvirtd = self.virtlogd = None


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.warning("pid %s ignored SIGTERM for %s s; killing it", process.pid, STOP_TIMEOUT)
        process.kill()
        process.wait(STOP_TIMEOUT)


def running_as_root() -> bool:
    return os.geteuid() == 0
