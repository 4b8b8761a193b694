"""A libvirtd of its own per test hypervisor, reached over libvirt's remote protocol.

Each daemon lives in its own network namespace (``netns.NetworkNamespace``: a veth pair,
the daemon listening on the namespace's address only) and its own mount namespace, in which
``/run/libvirt``, ``/etc/libvirt``, ``/var/lib/libvirt``, ``/var/log/libvirt`` and
``/var/cache/libvirt`` are directories of the daemon's work dir: two daemons never see each
other's sockets, state or guests, nor the machine's own libvirtd. ``/dev/kvm`` is covered
as ``tests/realguest/daemons.py`` does (no ~45 s QEMU probe per guest start).

The private ``qemu.conf`` says ``namespaces = []`` (as there), ``stdio_handler = "file"``
(QEMU's log goes to the private /var/log/libvirt: no virtlogd needed) and
``cgroup_controllers = []`` (two daemons both number their first guest 1: with the same
guest name, their cgroups would be the same directory).

The host reaches each daemon at ``uri`` (``qemu+tls://ADDRESS/system?pkipath=DIR`` or
``qemu+tcp://ADDRESS/system``); ``local_uri`` is its Unix socket, seen from the host through
the work dir, which works also while the link is down (cleanup uses it).

How the pieces fit, and the same set up by hand: ``tests/multihv/README.md``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import libvirt

from tests.realguest.daemons import (
    POLL_INTERVAL,
    READY_TIMEOUT,
    ensure_qemu_user,
    program,
    stop_process,
    unreachable,
)

from .netns import NetworkNamespace
from .pki import make_pki

log = logging.getLogger(__name__)

TLS, TCP = "tls", "tcp"
TLS_PORT, TCP_PORT = 16514, 16509
# private directory name in the work dir -> where the daemon sees it
PRIVATE_DIRS = {
    "run": "/run/libvirt",
    "etc": "/etc/libvirt",
    "lib": "/var/lib/libvirt",
    "log": "/var/log/libvirt",
    "cache": "/var/cache/libvirt",
}
QEMU_CONF = 'namespaces = []\nstdio_handler = "file"\ncgroup_controllers = []\n'
_NAMESPACE_SCRIPT = (
    'work="$1"; shift; '
    'if [ -e /dev/kvm ]; then mount --bind "$work/nokvm" /dev/kvm; fi; '
    + "".join(f'mount --bind "$work/{name}" {seen}; ' for name, seen in PRIVATE_DIRS.items())
    + 'exec "$@"'
)


def _libvirtd_conf(transport: str, address: str, pki_dir: Path | None) -> str:
    """Listen on ``address`` only, over one transport, no authentication but TLS's own."""
    lines = [f'listen_addr = "{address}"']
    if transport == TLS:
        lines += [
            "listen_tls = 1",
            "listen_tcp = 0",
            f'tls_port = "{TLS_PORT}"',
            'auth_tls = "none"',
            f'ca_file = "{pki_dir}/cacert.pem"',
            f'cert_file = "{pki_dir}/servercert.pem"',
            f'key_file = "{pki_dir}/serverkey.pem"',
        ]
    else:
        lines += [
            "listen_tls = 0",
            "listen_tcp = 1",
            f'tcp_port = "{TCP_PORT}"',
            'auth_tcp = "none"',
        ]
    return "\n".join(lines) + "\n"


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-4000:]
    return f"(no {path})"


def missing_tools() -> list[str]:
    """The programs this module runs that are not installed (Debian package in brackets)."""
    tools = {"ip": "iproute2", "nsenter": "util-linux", "unshare": "util-linux",
             "certtool": "gnutls-bin", "libvirtd": "libvirt-daemon"}  # fmt: skip
    return [
        f"{tool} ({package})"
        for tool, package in tools.items()
        if not (shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin"))
    ]


class RemoteDaemon:
    """One libvirtd in namespaces of its own, listening over ``transport`` (tls or tcp)."""

    def __init__(self, workdir: Path, label: str, transport: str, extra_conf: str = "") -> None:
        """``extra_conf``: more ``libvirtd.conf`` lines (e.g. ``tls_allowed_dn_list``)."""
        if transport not in (TLS, TCP):
            raise ValueError(f"transport is {TLS!r} or {TCP!r}, not {transport!r}")
        self.workdir = workdir
        self.label = label
        self.transport = transport
        self.extra_conf = extra_conf
        self.namespace = NetworkNamespace(label)
        self.client_pki: Path | None = None
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return self.namespace.address

    @property
    def uri(self) -> str:
        if self.transport == TLS:
            return f"qemu+tls://{self.address}/system?pkipath={self.client_pki}"
        return f"qemu+tcp://{self.address}/system"

    @property
    def local_uri(self) -> str:
        return f"qemu+unix:///system?socket={self.workdir / 'run' / 'libvirt-sock'}"

    def start(self) -> RemoteDaemon:
        """Namespaces, private dirs, certificates; return once the daemon answers at ``uri``."""
        ensure_qemu_user()
        self.namespace.create()
        for name, seen in PRIVATE_DIRS.items():
            (self.workdir / name).mkdir(mode=0o755, exist_ok=True)
            (self.workdir / name).chmod(0o755)  # QEMU runs as libvirt-qemu
            Path(seen).mkdir(parents=True, exist_ok=True)  # a mount point on the host
        (self.workdir / "nokvm").touch(mode=0o000)
        pki_dir = None
        if self.transport == TLS:
            pki = make_pki(self.workdir / "pki", self.address)
            self.client_pki = pki.client
            pki_dir = Path(PRIVATE_DIRS["etc"]) / "pki"
            shutil.copytree(pki.server, self.workdir / "etc" / "pki")
        etc = self.workdir / "etc"
        etc.joinpath("libvirtd.conf").write_text(
            _libvirtd_conf(self.transport, self.address, pki_dir) + self.extra_conf
        )
        etc.joinpath("qemu.conf").write_text(QEMU_CONF)
        self._spawn()
        return self

    def _spawn(self) -> None:
        command = [
            "nsenter", f"--net={self.namespace.path}", "--",
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-ec", _NAMESPACE_SCRIPT, "sh", str(self.workdir),
            program("libvirtd"), "--listen", "--pid-file", str(self.workdir / "libvirtd.pid"),
        ]  # fmt: skip
        started = time.monotonic()
        with open(self.workdir / "libvirtd.log", "ab") as out:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        deadline = started + READY_TIMEOUT
        while (why := unreachable(self.uri)) is not None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} did not come up ({why}):\n{self.log()}")
            time.sleep(POLL_INTERVAL)
        log.info("%s answers at %s after %.1f s", self.label, self.uri, time.monotonic() - started)

    def set_link(self, up: bool) -> None:
        """The daemon's network link down (unreachable, nothing refused) or up again."""
        self.namespace.set_link(up)

    def log(self) -> str:
        """The end of the daemon's log."""
        return _tail(self.workdir / "libvirtd.log")

    def qemu_log(self, name: str) -> str:
        """The end of guest ``name``'s QEMU log (in the private /var/log/libvirt)."""
        return _tail(self.workdir / "log" / "qemu" / f"{name}.log")

    def guest_pid(self, name: str) -> int:
        """The pid of guest ``name``'s QEMU (libvirt's pid file in the private /run/libvirt)."""
        return int((self.workdir / "run" / "qemu" / f"{name}.pid").read_text())

    def destroy_guests(self) -> list[str]:
        """Destroy every running guest of this daemon (over its Unix socket); their names."""
        if self.process is None or self.process.poll() is not None:
            return []
        conn = libvirt.open(self.local_uri)
        try:
            names = []
            for domain in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                with contextlib.suppress(libvirt.libvirtError):
                    domain.destroy()
                names.append(domain.name())
            return names
        finally:
            conn.close()

    def stop(self) -> None:
        """Guests, daemon, namespaces gone; raise if a process of the namespace outlived it."""
        try:
            self.destroy_guests()
        finally:
            if self.process is not None:
                stop_process(self.process)
                self.process = None
        left = self.namespace.pids()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.namespace.remove()
        if left:
            raise RuntimeError(f"processes outlived {self.label}'s libvirtd (killed): {left}")
