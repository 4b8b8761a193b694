"""The SSH set-up the README documents: the service's key (``keyfile=``), batch mode
(``no_tty=1``), the hypervisor's host key in ``/etc/ssh/ssh_known_hosts``, and a
``serialconsole-host`` with ``qemu+ssh://USER@ADDRESS/system?keyfile=...&no_tty=1`` reaching
the test's TCP daemon through an sshd in its namespaces. A key the hypervisor does not
admit shows ``unreachable`` with ssh's reason, and no key path reaches the API or the log.

The host runs in a mount namespace of its own where ``/etc/ssh`` is a directory of the
test's (``ssh_known_hosts`` only): the machine's ssh set-up is neither read nor changed.
The far end logs in as root (the daemon's socket in its namespace is root's); on a real
hypervisor it is a user in the libvirt group.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import Host

from .remote_daemons import TCP, RemoteDaemon
from .sshd import SshServer, make_key, missing_ssh_tools

# /etc/ssh replaced by the test's directory, then the host
_PRIVATE_ETC_SSH = 'mount --bind "$1" /etc/ssh; shift; exec "$@"'


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """``admitted``: the service's key the hypervisor knows; ``stranger``: one it does not."""
    (tmp_path / "keys").mkdir(mode=0o700)
    return {
        name: make_key(tmp_path / "keys" / f"id_{name}", f"serialconsole {name}")
        for name in ("admitted", "stranger")
    }


@pytest.fixture
def ssh_server(
    hypervisors: dict[str, RemoteDaemon], keys: dict[str, Path], tmp_path: Path
) -> Iterator[SshServer]:
    if missing := missing_ssh_tools():
        pytest.skip(f"not installed: {', '.join(missing)}")
    (tmp_path / "sshd").mkdir()
    server = SshServer(hypervisors[TCP], tmp_path / "sshd")
    try:
        yield server.start(keys["admitted"])
    finally:
        server.stop()


@pytest.fixture
def ssh_host(ssh_server: SshServer, keys: dict[str, Path], tmp_path: Path) -> Iterator[Host]:
    etc_ssh = tmp_path / "etc-ssh"
    etc_ssh.mkdir()
    (etc_ssh / "ssh_known_hosts").write_text(ssh_server.known_hosts_line())
    source = []
    for name, key in keys.items():
        uri = f"qemu+ssh://root@{ssh_server.address}/system?keyfile={key}&no_tty=1"
        source += ["--hypervisor", f"{name}={uri}"]
    command = [
        "unshare", "--mount", "--propagation", "private", "--",
        "sh", "-ec", _PRIVATE_ETC_SSH, "sh", str(etc_ssh),
        sys.executable, "-m", "plugin_serialconsole.host.cli",
    ]  # fmt: skip
    host = Host("--log-level", "debug", source=tuple(source), command=command)
    host.start()
    try:
        yield host
    finally:
        host.finish()


def test_the_documented_ssh_set_up_connects_and_a_stranger_key_says_why_without_its_path(
    ssh_host: Host, ssh_server: SshServer, keys: dict[str, Path]
):
    states = ssh_host.settled_hypervisors()  # the first connect of each: ssh, then libvirt
    assert {name: hv["state"] for name, hv in states.items()} == {
        "admitted": "connected",
        "stranger": "unreachable",
    }, f"{states}\nsshd log:\n{ssh_server.log()}"
    assert states["admitted"]["uri"] == (
        f"qemu+ssh://root@{ssh_server.address}/system?keyfile=***&no_tty=***"
    )
    assert "Permission denied" in states["stranger"]["reason"]

    shown = ssh_host.get("/hypervisors").text + ssh_host.get("/vms").text
    log = ssh_host.full_log()
    for name, key in keys.items():
        assert str(key) not in shown, f"{name}'s key path in the API"
        assert str(key) not in log, f"{name}'s key path in the log"
