"""An OpenSSH server beside a test hypervisor's libvirtd, for ``qemu+ssh://``.

It runs in the daemon's network namespace (listening on the daemon's address, port 22)
and in its mount namespace, so what libvirt starts at the far end of an SSH connection
(``virt-ssh-helper`` or ``nc -U``) finds the daemon's socket at ``/run/libvirt``. Its
host key, ``authorized_keys`` and configuration live in its work dir; nothing of the
machine's own ssh set-up is read or changed (the privilege separation directory
``/run/sshd``, empty, is made if it is missing, as the ssh service would).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.realguest.daemons import POLL_INTERVAL, stop_process

from .remote_daemons import RemoteDaemon

SSHD = "/usr/sbin/sshd"
SSH_PORT = 22
READY_TIMEOUT = 15.0
PRIVSEP_DIR = Path("/run/sshd")


def missing_ssh_tools() -> list[str]:
    """The ssh programs this module runs that are not installed (Debian package in brackets)."""
    tools = {SSHD: "openssh-server", "ssh": "openssh-client", "ssh-keygen": "openssh-client"}
    return [f"{tool} ({package})" for tool, package in tools.items() if not shutil.which(tool)]


def make_key(path: Path, comment: str) -> Path:
    """A new ed25519 key without a passphrase at ``path`` (0600), ``path.pub`` beside it."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


class SshServer:
    """``sshd -D`` in ``daemon``'s namespaces, admitting the keys given to ``start``."""

    def __init__(self, daemon: RemoteDaemon, workdir: Path) -> None:
        self.daemon = daemon
        self.workdir = workdir
        self.host_key = workdir / "ssh_host_ed25519_key"
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return self.daemon.address

    def known_hosts_line(self) -> str:
        """This server's host key, as a line of ``ssh_known_hosts``."""
        kind, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{self.address} {kind} {key}\n"

    def start(self, *authorized: Path) -> SshServer:
        """Listen, admitting the public keys of the private keys ``authorized``; return
        once it accepts TCP connections."""
        assert self.daemon.process is not None, "the daemon runs first"
        make_key(self.host_key, "test hypervisor")
        authorized_keys = self.workdir / "authorized_keys"
        authorized_keys.write_text(
            "".join(key.with_suffix(".pub").read_text() for key in authorized)
        )
        config = self.workdir / "sshd_config"
        config.write_text(
            f"ListenAddress {self.address}:{SSH_PORT}\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {authorized_keys}\nPidFile none\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nLogLevel VERBOSE\n"
        )
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        command = [
            "nsenter", f"--target={self.daemon.process.pid}", "--net", "--mount", "--",
            SSHD, "-D", "-e", "-f", str(config),
        ]  # fmt: skip
        with open(self.workdir / "sshd.log", "ab") as out:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not come up:\n{self.log()}")
            time.sleep(POLL_INTERVAL)
        return self

    def _accepts(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection((self.address, SSH_PORT), timeout=1.0),
        ):
            return True
        return False

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / "sshd.log").read_text(errors="replace")[-4000:]
        return "(no sshd log)"

    def stop(self) -> None:
        """The listener and every session of it gone (a session outlives its listener)."""
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        for pid in self._sessions():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _sessions(self) -> list[int]:
        sessions = []
        for pid in self.daemon.namespace.pids():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/exe").resolve() == Path(SSHD):
                    sessions.append(pid)
        return sessions
