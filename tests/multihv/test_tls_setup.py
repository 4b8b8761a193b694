"""The TLS set-up the README documents, done as an operator would: the client side made by
``contrib/hypervisors/serialconsole-tls-client.py`` from the hypervisor's CA, and a
``serialconsole-host`` configured with ``[hypervisors] NAME = qemu+tls://ADDRESS/system?
pkipath=DIR`` reaching the test's TLS daemon. A client identity from another CA, a missing
key and a key that is not the certificate's show ``unreachable``, each with a reason, and
no path of theirs reaches the API or the log. A daemon with ``tls_allowed_dn_list``
admits a client named there as the README says (``O=...,CN=...``), and only that one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import Host

from .pki import make_ca
from .remote_daemons import TLS, RemoteDaemon

# pki.make_pki's own client, which RemoteDaemon.start connects with
TEST_CLIENT_DN = "O=serialconsole tests,CN=serialconsole-host"

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contrib" / "hypervisors" / "serialconsole-tls-client.py"
# libvirt's words when the daemon hangs up on a client certificate it refused (README)
REFUSED_BY_THE_DAEMON = "Unable to read TLS confirmation"


def make_client_identity(ca_dir: Path, pkipath: Path, *options: str) -> Path:
    """The contrib script's client key and certificate, signed by the CA in ``ca_dir``."""
    subprocess.run(
        [sys.executable, str(SCRIPT), "--ca-cert", str(ca_dir / "cacert.pem"),
         "--ca-key", str(ca_dir / "cakey.pem"), "--pkipath", str(pkipath), *options],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return pkipath


@pytest.fixture
def pkipaths(hypervisors: dict[str, RemoteDaemon], tmp_path: Path) -> dict[str, Path]:
    """A pkipath= directory per case: ``good`` from the daemon's own CA (``pki.make_pki``
    keeps it beside the client dir), ``foreign`` from a fresh CA the daemon never saw,
    ``nokey`` without its key, ``wrongkey`` with a key that is not its certificate's."""
    daemon_ca = hypervisors[TLS].client_pki.parent / "ca"
    foreign_ca, _key = make_ca(tmp_path / "foreign-ca")
    made = {
        "good": make_client_identity(daemon_ca, tmp_path / "good"),
        "foreign": make_client_identity(foreign_ca.parent, tmp_path / "foreign"),
        "nokey": make_client_identity(daemon_ca, tmp_path / "nokey"),
        "wrongkey": make_client_identity(daemon_ca, tmp_path / "wrongkey"),
    }
    (made["nokey"] / "clientkey.pem").unlink()
    other = make_client_identity(daemon_ca, tmp_path / "other")
    (other / "clientkey.pem").replace(made["wrongkey"] / "clientkey.pem")
    return made


def started_host(address: str, pkipaths: dict[str, Path]) -> Host:
    """A host with a hypervisor per pkipath, all at ``address``; logging at debug, so
    libvirt's own error reports are in the log too."""
    source = []
    for name, pkipath in pkipaths.items():
        source += ["--hypervisor", f"{name}=qemu+tls://{address}/system?pkipath={pkipath}"]
    return Host("--log-level", "debug", source=tuple(source)).start()


@pytest.fixture
def tls_host(hypervisors: dict[str, RemoteDaemon], pkipaths: dict[str, Path]) -> Iterator[Host]:
    host = started_host(hypervisors[TLS].address, pkipaths)
    try:
        yield host
    finally:
        host.finish()


def test_the_documented_tls_set_up_connects_and_a_bad_one_says_why_without_its_paths(
    tls_host: Host, pkipaths: dict[str, Path]
):
    states = tls_host.settled_hypervisors()
    assert {name: hv["state"] for name, hv in states.items()} == {
        "good": "connected",
        "foreign": "unreachable",
        "nokey": "unreachable",
        "wrongkey": "unreachable",
    }, states
    assert states["good"]["uri"].endswith("/system?pkipath=***")
    for name in ("foreign", "nokey", "wrongkey"):
        assert states[name]["reason"], f"{name}: no reason given"
    # libvirt names the files it could not use: as *** only
    assert "***/clientkey.pem" in states["wrongkey"]["reason"]
    # without a key libvirt sends no certificate, and the daemon hangs up (the README says so)
    assert states["nokey"]["reason"].startswith(REFUSED_BY_THE_DAEMON)

    shown = tls_host.get("/hypervisors").text + tls_host.get("/vms").text
    log = tls_host.full_log()
    assert "unreachable" in log
    for name, pkipath in pkipaths.items():
        assert str(pkipath) not in shown, f"{name}'s pkipath in the API"
        assert str(pkipath) not in log, f"{name}'s pkipath in the log"


@pytest.fixture
def dn_checking_daemon(
    hypervisors: dict[str, RemoteDaemon], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteDaemon]:
    """A TLS daemon of its own that admits two names only: ``serialconsole@allowed`` as
    the README writes a name, ``serialconsole@reversed`` as ``certtool -i`` prints one."""
    allowed = [
        TEST_CLIENT_DN,
        "O=serialconsole,CN=serialconsole@allowed",
        "CN=serialconsole@reversed,O=serialconsole",
    ]
    quoted = ", ".join(f'"{name}"' for name in allowed)
    workdir = tmp_path_factory.mktemp("hvdn")
    daemon = RemoteDaemon(workdir, "hvdn", TLS, f"tls_allowed_dn_list = [{quoted}]\n")
    try:
        yield daemon.start()
    finally:
        try:
            daemon.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def test_tls_allowed_dn_list_admits_the_name_written_as_the_readme_says(
    dn_checking_daemon: RemoteDaemon, tmp_path: Path
):
    daemon_ca = dn_checking_daemon.client_pki.parent / "ca"
    pkipaths = {
        name: make_client_identity(daemon_ca, tmp_path / name, f"--cn=serialconsole@{name}")
        for name in ("allowed", "reversed", "other")
    }
    host = started_host(dn_checking_daemon.address, pkipaths)
    try:
        states = host.settled_hypervisors()
    finally:
        host.finish()
    assert {name: hv["state"] for name, hv in states.items()} == {
        "allowed": "connected",
        "reversed": "unreachable",
        "other": "unreachable",
    }, states
    # what the README's table says a refused certificate looks like from here
    assert states["other"]["reason"].startswith(REFUSED_BY_THE_DAEMON)
