"""contrib/serialconsole.service: what systemd says of it, and that it starts our host."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from plugin_serialconsole.host.options import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "contrib" / "serialconsole.service"
INSTALLED_BINARY = "/usr/bin/serialconsole-host"
MAX_EXPOSURE = 30  # systemd-analyze security's scale is 0-100; 30 prints as 3.0 "OK"
REQUIRED = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "RuntimeDirectory": "serialconsole",
    "RuntimeDirectoryMode": "0700",
    "StateDirectory": "serialconsole",
    "StateDirectoryMode": "0700",
    "Restart": "on-failure",
}


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if match := re.fullmatch(r"(\w+)=(.*)", line.strip()):
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


def systemd_analyze() -> str:
    program = shutil.which("systemd-analyze")
    if program is None:
        message = "systemd-analyze is not installed (make system-deps installs systemd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return program


@pytest.fixture
def checkable_unit(tmp_path) -> Path:
    """The unit with ExecStart pointing at this checkout's serialconsole-host (systemd
    checks the program exists); nothing else changed."""
    program = Path(sys.executable).parent / "serialconsole-host"
    assert program.exists(), program
    text = UNIT.read_text()
    assert INSTALLED_BINARY in text
    path = tmp_path / UNIT.name
    path.write_text(text.replace(INSTALLED_BINARY, str(program)))
    return path


def test_unit_has_the_required_hardening():
    found = settings()
    for key, value in REQUIRED.items():
        assert found.get(key) == [value], key


def test_systemd_analyze_verify_is_clean(checkable_unit):
    result = subprocess.run(
        [systemd_analyze(), "verify", str(checkable_unit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if checkable_unit.name in line]
    assert not ours, "\n".join(ours)


def test_exposure_stays_low(checkable_unit):
    result = subprocess.run(
        [
            systemd_analyze(), "security", "--offline=yes", f"--threshold={MAX_EXPOSURE}",
            "--no-pager", str(checkable_unit),
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    overall = [line for line in result.stdout.splitlines() if "Overall exposure" in line]
    assert result.returncode == 0, "\n".join(overall) or result.stderr


def test_exec_start_is_a_command_line_the_host_accepts():
    (exec_start,) = settings()["ExecStart"]
    program, *arguments = shlex.split(exec_start)
    assert program == INSTALLED_BINARY
    args = build_parser().parse_args(arguments)
    assert args.config == Path("/etc/serialconsole/serialconsole.conf")


HYPERVISORS = ROOT / "contrib" / "hypervisors"
CREDENTIALS_DIR = f"/run/credentials/{UNIT.name}"


def test_the_hypervisor_credentials_drop_in_verifies_with_the_unit(checkable_unit):
    drop_in = checkable_unit.parent / f"{checkable_unit.name}.d" / "hypervisors.conf"
    drop_in.parent.mkdir()
    shutil.copyfile(HYPERVISORS / "credentials.conf", drop_in)
    result = subprocess.run(
        [systemd_analyze(), "verify", str(checkable_unit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "hypervisors.conf" not in result.stderr


def test_the_example_uris_name_the_files_the_drop_in_hands_to_the_service():
    """hypervisors.conf's pkipath= holds the three TLS files libvirt reads, and each
    keyfile= is a credential of credentials.conf."""
    loaded = re.findall(
        r"^LoadCredential=([^:]+):", (HYPERVISORS / "credentials.conf").read_text(), re.M
    )
    config = configparser.ConfigParser(interpolation=None)
    config.read(HYPERVISORS / "hypervisors.conf")
    params = [parse_qs(urlsplit(uri).query) for uri in config["hypervisors"].values()]
    pkipaths = {value for param in params for value in param.get("pkipath", [])}
    keyfiles = {value for param in params for value in param.get("keyfile", [])}
    assert pkipaths == {CREDENTIALS_DIR}
    assert {"cacert.pem", "clientcert.pem", "clientkey.pem"} <= set(loaded)
    assert keyfiles and {str(Path(CREDENTIALS_DIR) / name) for name in loaded} >= keyfiles
