"""A throwaway PKI for libvirt's TLS transport, made with GnuTLS's ``certtool``.

Laid out the way libvirt looks for it (see libvirt's "TLS x509 certificate configuration"):

- ``server/``: ``cacert.pem``, ``servercert.pem``, ``serverkey.pem`` for a daemon
  (libvirtd.conf ``ca_file``, ``cert_file``, ``key_file``);
- ``client/``: ``cacert.pem``, ``clientcert.pem``, ``clientkey.pem``, which a client names
  with ``qemu+tls://ADDRESS/system?pkipath=DIR``;
- ``ca/``: ``cacert.pem``, ``cakey.pem``, the CA that signed both (``make_ca``).

The server certificate names the daemon's IP address (CN and subjectAltName), which is what
the client checks against the URI's host.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_TEMPLATE = "cn = serialconsole test CA\nca\ncert_signing_key\nexpiration_days = 2\n"
SERVER_TEMPLATE = (
    "organization = serialconsole tests\ncn = {address}\nip_address = {address}\n"
    "tls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n"
)
CLIENT_TEMPLATE = (
    "organization = serialconsole tests\ncn = serialconsole-host\n"
    "tls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n"
)


@dataclass(frozen=True)
class Pki:
    server: Path
    client: Path

    @property
    def ca_file(self) -> Path:
        return self.server / "cacert.pem"

    @property
    def cert_file(self) -> Path:
        return self.server / "servercert.pem"

    @property
    def key_file(self) -> Path:
        return self.server / "serverkey.pem"


def _certtool(*args: str) -> None:
    if shutil.which("certtool") is None:
        raise RuntimeError("certtool is not installed (Debian: gnutls-bin)")
    subprocess.run(["certtool", *args], check=True, capture_output=True)


def _key(path: Path) -> Path:
    _certtool("--generate-privkey", "--key-type", "rsa", "--bits", "2048", "--outfile", str(path))
    path.chmod(0o600)
    return path


def _template(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def make_ca(directory: Path) -> tuple[Path, Path]:
    """A self-signed CA in ``directory`` (made): its ``cacert.pem`` and ``cakey.pem``."""
    directory.mkdir(parents=True, mode=0o700)
    ca_key, ca_cert = _key(directory / "cakey.pem"), directory / "cacert.pem"
    _certtool("--generate-self-signed", "--load-privkey", str(ca_key),
              "--template", str(_template(directory / "ca.info", CA_TEMPLATE)),
              "--outfile", str(ca_cert))  # fmt: skip
    return ca_cert, ca_key


def make_pki(directory: Path, server_address: str) -> Pki:
    """A CA, a server certificate for ``server_address`` and a client certificate."""
    server, client = directory / "server", directory / "client"
    ca_cert, ca_key = make_ca(directory / "ca")
    for path in (server, client):
        path.mkdir(parents=True, mode=0o700)
    signed_by_ca = ("--load-ca-certificate", str(ca_cert), "--load-ca-privkey", str(ca_key))
    for side, template, stem in (
        (server, SERVER_TEMPLATE.format(address=server_address), "server"),
        (client, CLIENT_TEMPLATE, "client"),
    ):
        _certtool("--generate-certificate", "--load-privkey", str(_key(side / f"{stem}key.pem")),
                  *signed_by_ca, "--template", str(_template(side / f"{stem}.info", template)),
                  "--outfile", str(side / f"{stem}cert.pem"))  # fmt: skip
        shutil.copyfile(ca_cert, side / "cacert.pem")
    return Pki(server=server, client=client)
