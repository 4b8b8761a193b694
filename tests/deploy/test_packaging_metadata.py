"""RPM spec and Debian metadata: they parse, and their versions are setup.cfg's."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "contrib" / "serialconsole.spec"
DEBIAN = ROOT / "contrib" / "debian"


def version() -> str:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    return setup["metadata"]["version"]


def program(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (make system-deps installs {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_rpm_spec_parses_and_has_the_package_version():
    rpmspec = program("rpmspec", "rpm")
    parsed = subprocess.run([rpmspec, "-P", str(SPEC)], capture_output=True, text=True, timeout=60)
    assert parsed.returncode == 0, parsed.stderr
    assert "error" not in parsed.stderr.lower() and "warning" not in parsed.stderr.lower()
    queried = subprocess.run(
        [rpmspec, "-q", "--srpm", "--qf", "%{VERSION}\n", str(SPEC)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert queried.stdout.strip() == version()


def test_rpm_spec_installs_what_the_debian_package_installs():
    spec = SPEC.read_text()
    installed = (DEBIAN / "serialconsole.install").read_text().split()[0::2]
    for source in installed:
        assert f" {source} " in spec, f"the spec does not install {source}"


def test_debian_changelog_has_the_package_version():
    parsed = subprocess.run(
        [program("dpkg-parsechangelog", "dpkg-dev"), "-l", str(DEBIAN / "changelog"), "-S",
         "Version"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    upstream = re.sub(r"-[^-]+$", "", parsed.stdout.strip())
    assert upstream == version()


def test_debian_rules_is_executable_and_control_names_the_host_and_wok_packages():
    assert os.access(DEBIAN / "rules", os.X_OK)
    control = (DEBIAN / "control").read_text()
    assert re.findall(r"(?m)^Package: (\S+)", control) == ["serialconsole", "serialconsole-wok"]
    assert (DEBIAN / "source" / "format").read_text().strip() == "3.0 (quilt)"


def test_both_packages_install_the_wok_shim_and_its_enabled_conf_where_wok_looks():
    """Wok imports wok.plugins.<name> from its plugins dir (<python>/wok/plugins) and reads
    /etc/wok/plugins.d/<name>.conf; the spec's wok subpackage installs the same files."""
    installed = dict(
        line.split() for line in (DEBIAN / "serialconsole-wok.install").read_text().splitlines()
    )
    assert installed == {
        "contrib/wok/serialconsole/__init__.py":
            "usr/lib/python3/dist-packages/wok/plugins/serialconsole/",
        "contrib/wok/serialconsole.conf": "etc/wok/plugins.d/",
    }  # fmt: skip
    spec = SPEC.read_text()
    for source in installed:
        assert f" {source} " in spec, f"the spec does not install {source}"
    assert "%files wok" in spec
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(ROOT / "contrib" / "wok" / "serialconsole.conf")
    assert conf["wok"].getboolean("enable")
