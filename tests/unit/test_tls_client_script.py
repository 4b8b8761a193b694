"""contrib/hypervisors/serialconsole-tls-client.py: the service's TLS client identity for
libvirt (``pkipath=``), made with certtool from a CA, private where it must be."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.multihv.pki import make_ca

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contrib" / "hypervisors" / "serialconsole-tls-client.py"

pytestmark = pytest.mark.skipif(
    shutil.which("certtool") is None, reason="certtool is not installed (Debian: gnutls-bin)"
)


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def certtool_info(path: Path) -> str:
    return subprocess.run(
        ["certtool", "--certificate-info", "--infile", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


@pytest.fixture
def ca(tmp_path: Path) -> tuple[Path, Path]:
    return make_ca(tmp_path / "ca")


def test_with_the_ca_key_it_makes_libvirts_client_files_private_and_signed(ca, tmp_path):
    ca_cert, ca_key = ca
    pkipath = tmp_path / "pki"
    made = run("--ca-cert", ca_cert, "--ca-key", ca_key, "--pkipath", pkipath, "--cn", "sc one")
    assert made.returncode == 0, made.stderr
    assert sorted(path.name for path in pkipath.iterdir()) == [
        "cacert.pem", "clientcert.pem", "clientkey.pem",
    ]  # fmt: skip
    assert (mode(pkipath), mode(pkipath / "clientkey.pem")) == (0o700, 0o600)
    assert mode(pkipath / "clientcert.pem") == mode(pkipath / "cacert.pem") == 0o644
    assert (pkipath / "cacert.pem").read_bytes() == ca_cert.read_bytes()
    info = certtool_info(pkipath / "clientcert.pem")
    assert "CN=sc one,O=serialconsole" in info and "TLS WWW Client" in info
    subprocess.run(
        ["certtool", "--verify", "--load-ca-certificate", str(ca_cert),
         "--infile", str(pkipath / "clientcert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    assert f"pkipath={pkipath}" in made.stdout


def test_without_the_ca_key_it_makes_a_request_for_the_ca(ca, tmp_path):
    pkipath = tmp_path / "pki"
    made = run("--ca-cert", ca[0], "--pkipath", pkipath)
    assert made.returncode == 0, made.stderr
    assert sorted(path.name for path in pkipath.iterdir()) == [
        "cacert.pem", "clientcert.csr", "clientcert.info", "clientkey.pem",
    ]  # fmt: skip
    assert mode(pkipath / "clientkey.pem") == 0o600
    assert "--load-request clientcert.csr" in made.stdout


def test_it_never_overwrites_a_key_unless_told(ca, tmp_path):
    pkipath = tmp_path / "pki"
    assert run("--ca-cert", ca[0], "--ca-key", ca[1], "--pkipath", pkipath).returncode == 0
    key = (pkipath / "clientkey.pem").read_bytes()
    again = run("--ca-cert", ca[0], "--ca-key", ca[1], "--pkipath", pkipath)
    assert again.returncode == 2 and "--force" in again.stderr
    assert (pkipath / "clientkey.pem").read_bytes() == key
    forced = run("--ca-cert", ca[0], "--ca-key", ca[1], "--pkipath", pkipath, "--force")
    assert forced.returncode == 0 and (pkipath / "clientkey.pem").read_bytes() != key


@pytest.mark.parametrize(
    "option, value",
    [("--cn", "x\nca"), ("--cn", 'x"\ntls_www_server'), ("--organization", "#x"),
     ("--cn", ""), ("--cn", "-x")],
)  # fmt: skip
def test_a_name_certtool_could_read_as_more_of_its_template_is_refused(ca, tmp_path, option, value):
    pkipath = tmp_path / "pki"
    refused = run("--ca-cert", ca[0], "--ca-key", ca[1], "--pkipath", pkipath, f"{option}={value}")
    assert refused.returncode == 2 and "letters, digits" in refused.stderr
    assert not pkipath.exists()


def test_a_missing_ca_file_is_named(tmp_path):
    refused = run("--ca-cert", tmp_path / "nope.pem", "--pkipath", tmp_path / "pki")
    assert refused.returncode == 2 and "nope.pem: no such file" in refused.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives files away")
def test_owner_gets_the_directory_and_its_files(ca, tmp_path):
    pkipath = tmp_path / "pki"
    made = run("--ca-cert", ca[0], "--ca-key", ca[1], "--pkipath", pkipath, "--owner", "nobody")
    assert made.returncode == 0, made.stderr
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True).stdout)
    assert {path.stat().st_uid for path in (pkipath, *pkipath.iterdir())} == {nobody}
