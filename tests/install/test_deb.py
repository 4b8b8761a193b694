"""The .deb, installed on this machine and started: run by ``make deb-check``.

``make deb`` builds the package; this module installs it with apt (which brings
Debian's python3-cherrypy3, -libvirt, -websockify, ... as they are in this release),
starts the installed ``/usr/bin/serialconsole-host`` on the mock model on ephemeral
ports with the installed configuration file, opens a console through the REST API and
the WebSocket proxy, stops it, and purges the package -- and the dependencies its
install brought, where that removes nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from tests.integration.helpers import WS_TIMEOUT, Console, Host, expect_refused

DEB = os.environ.get("SERIALCONSOLE_DEB")
# Only what the package depends on: Recommends (libvirt-daemon-system, nginx) would
# install and configure services on this machine.
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=900", "-y", "-q", "--no-install-recommends"]
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
APT_TIMEOUT = 1200
SHIPPED_FILES = (
    "/usr/bin/serialconsole-host",
    "/usr/bin/serialconsole-passwd",
    "/etc/serialconsole/serialconsole.conf",
    "/lib/systemd/system/serialconsole.service",
    "/usr/share/serialconsole/nginx/serialconsole.conf",
    "/usr/share/serialconsole/hypervisors/serialconsole-tls-client.py",
)

pytestmark = pytest.mark.skipif(not DEB, reason="make deb-check builds the .deb and runs this")


def run(command: list[str], timeout: float = APT_TIMEOUT) -> str:
    """Run ``command`` from / (so ``python3 -c`` cannot import this checkout); its stdout."""
    result = subprocess.run(
        command, capture_output=True, text=True, env=APT_ENV, timeout=timeout, cwd="/"
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def status(package: str) -> str:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return result.stdout if result.returncode == 0 else "not-installed"


def simulated(action: list[str], verbs: str) -> set[str]:
    """Packages apt would act on (``verbs``: a regex of Inst, Purg, Remv) for ``action``,
    without doing it."""
    output = run([*APT, "-s", *action])
    return set(re.findall(rf"^(?:{verbs}) (\S+)", output, re.MULTILINE))


@pytest.fixture(scope="module")
def installed() -> Iterator[str]:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        message = "installing a .deb needs root and apt-get"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    deb = Path(DEB).resolve()
    package = run(["dpkg-deb", "-f", str(deb), "Package"]).strip()
    brought = simulated(["install", str(deb)], "Inst") - {package}
    run([*APT, "install", str(deb)])
    try:
        yield package
    finally:
        run([*APT, "purge", package])
        still_auto = brought & set(run(["apt-mark", "showauto"]).split())
        if still_auto:
            removed = simulated(["purge", *sorted(still_auto)], "Purg|Remv")
            if removed <= still_auto:  # nothing installed since depends on them
                run([*APT, "purge", *sorted(still_auto)])
        assert status(package).endswith("not-installed"), status(package)
        assert not Path("/etc/serialconsole").exists(), "purge left /etc/serialconsole"


def test_package_ships_its_files_and_runs_on_debian_python(installed):
    for path in SHIPPED_FILES:
        assert Path(path).is_file(), path
    where = run(
        [
            "/usr/bin/python3",
            "-c",
            "import importlib.metadata as m, plugin_serialconsole as p; "
            "print(p.__file__); print(m.version('websockify'))",
        ]
    ).split()
    assert where[0].startswith("/usr/lib/python3/dist-packages/plugin_serialconsole/")
    print(f"Debian's websockify: {where[1]}")


def test_installed_passwd_writes_a_private_users_file(installed, tmp_path):
    users = tmp_path / "users"
    result = subprocess.run(
        ["/usr/bin/serialconsole-passwd", "--users-file", str(users), "alice"],
        input="a-long-password\n", capture_output=True, text=True, timeout=60, cwd="/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "\nalice:$scrypt$" in users.read_text()
    assert users.stat().st_mode & 0o777 == 0o600


def test_installed_host_serves_a_console(installed):
    host = Host(
        "--config",
        "/etc/serialconsole/serialconsole.conf",
        command=["/usr/bin/serialconsole-host"],
        cwd=Path("/"),  # so `python3 -m` in child processes imports the installed package
    )
    console = None
    try:
        host.start()
        guests = host.get("vms")
        assert guests.status_code == 200, guests.text
        assert "mock-vm" in [guest["name"] for guest in guests.json()]
        # the web UI from /usr/share/serialconsole/ui, xterm.js included
        for path in ("", "console.html", "ui/node_modules/@xterm/xterm/lib/xterm.js"):
            assert host.get(path).status_code == 200, path
        # the server's message catalogs (.mo) are in the package
        english = host.get("vms/no-such-guest").json()["reason"]
        german = host.get("vms/no-such-guest", headers={"Accept-Language": "de"}).json()
        assert german["code"] == "SCONS0001E" and german["reason"] != english
        opened = host.open("mock-vm")
        # Debian's websockify runs the Origin check too, before the token is spent
        expect_refused(opened["ws_url"], 403, origin="http://evil.example")
        console = Console(websocket.create_connection(opened["ws_url"], timeout=WS_TIMEOUT))
        console.banner()
        console.send("echo installed\r")
        assert b"installed\r\n" in console.read_until(b"# ")
        host.wait_session_state("connected")
        console.send(b"\x11")  # Ctrl+Q
        assert console.read_until_close().endswith(b"(SCONS0102L)\r\n")
        host.assert_idle()
    finally:
        if console is not None:
            console.close()
        host.finish()
