"""The TLS set-up the README documents, done as an operator would: the client side made by
``contrib/hypervisors/serialconsole-tls-client.py`` from the hypervisor's CA, and a
``serialconsole-host`` configured with ``[hypervisors] NAME = qemu+tls://ADDRESS/system?
pkipath=DIR`` reaching the test's TLS daemon. A client identity from another CA, a missing
key and a key that is not the certificate's show ``unreachable``, each with a reason, and
no path of theirs reaches the API or the log."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import Host, wait_for

from .pki import make_ca
from .remote_daemons import TLS, RemoteDaemon

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contrib" / "hypervisors" / "serialconsole-tls-client.py"
SETTLED_BOUND = 15.0  # the first connect of each, and the slack of a shared machine


def make_client_identity(ca_dir: Path, pkipath: Path) -> Path:
    """The contrib script's client key and certificate, signed by the CA in ``ca_dir``."""
    subprocess.run(
        [sys.executable, str(SCRIPT), "--ca-cert", str(ca_dir / "cacert.pem"),
         "--ca-key", str(ca_dir / "cakey.pem"), "--pkipath", str(pkipath)],
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


@pytest.fixture
def tls_host(hypervisors: dict[str, RemoteDaemon], pkipaths: dict[str, Path]) -> Iterator[Host]:
    """One host, a hypervisor per pkipath, all at the TLS daemon; logging at debug, so
    libvirt's own error reports are in the log too."""
    address = hypervisors[TLS].address
    source = []
    for name, pkipath in pkipaths.items():
        source += ["--hypervisor", f"{name}=qemu+tls://{address}/system?pkipath={pkipath}"]
    host = Host("--log-level", "debug", source=tuple(source))
    host.start()
    try:
        yield host
    finally:
        host.finish()


def test_the_documented_tls_set_up_connects_and_a_bad_one_says_why_without_its_paths(
    tls_host: Host, pkipaths: dict[str, Path]
):
    def settled() -> dict[str, dict] | None:
        states = {hv["name"]: hv for hv in tls_host.get("/hypervisors").json()}
        return None if any(hv["state"] == "connecting" for hv in states.values()) else states

    states = wait_for(settled, SETTLED_BOUND, "every hypervisor connected or unreachable")
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
    assert "TLS" in states["nokey"]["reason"]

    shown = tls_host.get("/hypervisors").text + tls_host.get("/vms").text
    log = tls_host.full_log()
    assert "unreachable" in log
    for name, pkipath in pkipaths.items():
        assert str(pkipath) not in shown, f"{name}'s pkipath in the API"
        assert str(pkipath) not in log, f"{name}'s pkipath in the log"
