#!/usr/bin/python3
"""Make serialconsole-host's TLS client identity for libvirt, in a ``pkipath=`` directory.

libvirt's ``qemu+tls://HOST/system?pkipath=DIR`` reads three files from DIR:

    DIR/cacert.pem      the CA that signed the hypervisors' server certificates (0644)
    DIR/clientcert.pem  this client's certificate, signed by that CA (0644)
    DIR/clientkey.pem   its private key (0600)

This script makes the key, and either the certificate (with the CA's key at hand,
``--ca-key``) or a certificate request to take to the CA (without it), with GnuTLS's
``certtool`` (Debian/Fedora: gnutls-bin / gnutls-utils). The directory is made 0700;
``--owner`` hands it and its files to the user the service runs as.

Examples (as root):

    # the CA's key on this machine: key + certificate in one go
    serialconsole-tls-client.py --ca-cert /root/ca/cacert.pem --ca-key /root/ca/cakey.pem \\
        --pkipath /etc/serialconsole/pki

    # the CA elsewhere: key + request here, sign there, copy clientcert.pem back
    serialconsole-tls-client.py --ca-cert cacert.pem --pkipath /etc/serialconsole/pki

Nothing is overwritten unless ``--force`` is given. Exit status 0 done, 1 certtool failed,
2 bad arguments or files already there. The README's "Many hypervisors" section has the
rest of the set-up (server certificates, the daemon, the service's credentials).
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

KEY, CERT, CA_CERT = "clientkey.pem", "clientcert.pem", "cacert.pem"
REQUEST, TEMPLATE = "clientcert.csr", "clientcert.info"
# Template values: letters, digits and a few separators, nothing certtool's template
# syntax could read as another directive (no quotes, newlines, '#', '=').
_TEMPLATE_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,63}")
DEFAULT_DAYS = 825


class SetupError(Exception):
    """Bad arguments or files in the way: exit status 2, the message says which."""


def _template_value(what: str, value: str) -> str:
    if not _TEMPLATE_VALUE.fullmatch(value):
        raise SetupError(
            f"{what} {value!r}: 1-64 letters, digits, spaces and '._@:-', "
            "starting with a letter or digit"
        )
    return value


def client_template(common_name: str, organization: str, days: int) -> str:
    """certtool's template for a TLS client certificate (what libvirtd checks:
    ``tls_www_client``; its distinguished name is what ``tls_allowed_dn_list`` matches)."""
    return (
        f'organization = "{_template_value("organization", organization)}"\n'
        f'cn = "{_template_value("common name", common_name)}"\n'
        f"expiration_days = {days}\n"
        "tls_www_client\nencryption_key\nsigning_key\n"
    )


def _certtool(*args: str) -> None:
    """Run certtool with ``args`` (a list: no shell); CalledProcessError with its output."""
    subprocess.run(["certtool", *args], check=True, capture_output=True, text=True)


def _existing_file(what: str, path: Path) -> Path:
    if not path.is_file():
        raise SetupError(f"{what} {path}: no such file")
    return path.resolve()  # absolute: never read as an option


def _owner(name: str | None) -> tuple[int, int] | None:
    if name is None:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise SetupError(f"owner {name!r}: no such user") from None
    return entry.pw_uid, entry.pw_gid


def make_client_identity(args: argparse.Namespace) -> list[Path]:
    """Key, then certificate (or request), and the CA certificate, in ``args.pkipath``;
    the files written."""
    ca_cert = _existing_file("CA certificate", args.ca_cert)
    ca_key = _existing_file("CA key", args.ca_key) if args.ca_key else None
    owner = _owner(args.owner)
    template_text = client_template(args.cn, args.organization, args.days)
    pkipath = args.pkipath.resolve()
    made = [pkipath / name for name in (KEY, CERT if ca_key else REQUEST, CA_CERT)]
    in_the_way = [path for path in made if path.exists()]
    if in_the_way and not args.force:
        raise SetupError(f"already there (--force replaces): {', '.join(map(str, in_the_way))}")

    pkipath.mkdir(mode=0o700, parents=True, exist_ok=True)
    pkipath.chmod(0o700)
    key, template = pkipath / KEY, pkipath / TEMPLATE
    for path in made:
        path.unlink(missing_ok=True)
    template.write_text(template_text)
    _certtool("--generate-privkey", "--key-type", "rsa", "--bits", "3072", "--outfile", str(key))
    key.chmod(0o600)
    if ca_key:
        _certtool("--generate-certificate", "--load-privkey", str(key),
                  "--load-ca-certificate", str(ca_cert), "--load-ca-privkey", str(ca_key),
                  "--template", str(template), "--outfile", str(pkipath / CERT))  # fmt: skip
        _certtool("--verify", "--load-ca-certificate", str(ca_cert),
                  "--infile", str(pkipath / CERT))  # fmt: skip
        template.unlink()
    else:
        _certtool("--generate-request", "--load-privkey", str(key),
                  "--template", str(template), "--outfile", str(pkipath / REQUEST))  # fmt: skip
        made.append(template)  # the CA signs with it
    shutil.copyfile(ca_cert, pkipath / CA_CERT)
    for path in made[1:]:
        path.chmod(0o644)
    if owner:
        for path in (pkipath, *made):
            os.chown(path, *owner)
    return made


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Make serialconsole-host's TLS client key and certificate for libvirt "
        "(qemu+tls://HOST/system?pkipath=DIR) with certtool.",
        epilog="Files: DIR/clientkey.pem (0600), DIR/clientcert.pem, DIR/cacert.pem; without "
        "--ca-key, DIR/clientcert.csr and DIR/clientcert.info for the CA to sign instead of "
        "clientcert.pem. See the README, 'Many hypervisors'.",
    )
    parser.add_argument(
        "--ca-cert",
        type=Path,
        required=True,
        metavar="FILE",
        help="the CA that signed the hypervisors' server certificates",
    )
    parser.add_argument(
        "--ca-key",
        type=Path,
        metavar="FILE",
        help="the CA's private key: sign here (else write a request)",
    )
    parser.add_argument(
        "--pkipath",
        type=Path,
        required=True,
        metavar="DIR",
        help="the directory the URIs' pkipath= names (made 0700)",
    )
    parser.add_argument(
        "--cn",
        default=f"serialconsole@{socket.gethostname()}",
        help="the certificate's common name (default: %(default)s)",
    )
    parser.add_argument(
        "--organization",
        default="serialconsole",
        help="the certificate's organization (default: %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help="days the certificate is valid (default: %(default)s)",
    )
    parser.add_argument(
        "--owner", metavar="USER", help="give the directory and files to USER (and its group)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a key, certificate or request already there"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 36500:
        parser.error(f"--days {args.days}: 1 to 36500")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.umask(0o077)  # every file is born private; the public ones are opened up after
    if shutil.which("certtool") is None:
        print("certtool is not installed (Debian: gnutls-bin, Fedora: gnutls-utils)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        made = make_client_identity(args)
    except SetupError as error:
        print(f"{Path(sys.argv[0]).name}: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"certtool failed ({error.returncode}): {error.stderr.strip()}", file=sys.stderr)
        return 1
    pkipath = made[0].parent
    print("\n".join(str(path) for path in made))
    if args.ca_key:
        print(f"\nUse: qemu+tls://HOST/system?pkipath={pkipath}")
    else:
        print(
            f"\nAt the CA: certtool --generate-certificate --load-request {REQUEST} "
            f"--template {TEMPLATE} --load-ca-certificate cacert.pem "
            f"--load-ca-privkey cakey.pem --outfile {CERT}\n"
            f"then copy {CERT} to {pkipath}/ (mode 0644)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
