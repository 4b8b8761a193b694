"""A real nginx running contrib/nginx/serialconsole.conf on ephemeral loopback ports.

The shipped file is used as it is, but for what a test machine must change: the
upstream ports (the host's ephemeral ones), the listen addresses (loopback, ephemeral,
no IPv6) and the certificate paths. Each replaced text must be found, so a change to the
shipped file that this harness no longer matches fails loudly instead of testing less.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from .helpers import POLL_INTERVAL, Host, free_port, shared_host

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "contrib" / "nginx" / "serialconsole.conf"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
START_TRIES = 3


def nginx_binary() -> str | None:
    return shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, valid one day."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def substitute(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"{SHIPPED} no longer contains {old!r}"
        text = text.replace(old, new)
    return text


class Nginx:
    """nginx in the foreground, one process, everything under a temporary prefix."""

    def __init__(self, http_port: int, ws_port: int) -> None:
        self.http_port = http_port
        self.ws_port = ws_port
        self.prefix = Path(tempfile.mkdtemp(prefix="scngx", dir="/tmp"))
        self.cert, self.key = make_certificate(self.prefix)
        self.tls_port = 0
        self.plain_port = 0
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        site = substitute(
            SHIPPED.read_text(),
            {
                "server 127.0.0.1:8010;": f"server 127.0.0.1:{self.http_port};",
                "server 127.0.0.1:64667;": f"server 127.0.0.1:{self.ws_port};",
                "listen 80;": f"listen 127.0.0.1:{self.plain_port};",
                "listen 443 ssl;": f"listen 127.0.0.1:{self.tls_port} ssl;",
                "listen [::]:80;": "",
                "listen [::]:443 ssl;": "",
                "/etc/ssl/certs/serialconsole.pem": str(self.cert),
                "/etc/ssl/private/serialconsole.key": str(self.key),
            },
        )
        temp = "\n".join(
            f"    {kind}_temp_path {self.prefix / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"daemon off;\nmaster_process off;\npid {self.prefix / 'nginx.pid'};\n"
            f"error_log {self.prefix / 'error.log'} info;\nevents {{}}\n"
            f"http {{\n    access_log {self.prefix / 'access.log'};\n{temp}\n{site}\n}}\n"
        )

    def start(self) -> Nginx:
        """Start on free ports; another program may take one first, so try again then."""
        for _ in range(START_TRIES):
            self.tls_port, self.plain_port = free_port(), free_port()
            conf = self.prefix / "nginx.conf"
            conf.write_text(self.config())
            self.proc = subprocess.Popen(
                [
                    nginx_binary() or "nginx",
                    "-e",
                    "stderr",
                    "-p",
                    str(self.prefix),
                    "-c",
                    str(conf),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._wait_listening():
                return self
            error = self.proc.stderr.read().decode(errors="replace") + self.log()
            self.proc.stderr.close()
            if "Address already in use" not in error:
                raise AssertionError(f"nginx did not start:\n{error}")
        raise AssertionError(f"nginx found no free ports in {START_TRIES} tries")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=1):
                    return True
            except OSError:
                time.sleep(POLL_INTERVAL)
        raise AssertionError(f"nginx not listening after {START_TIMEOUT} s\n{self.log()}")

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    def log(self) -> str:
        try:
            return (self.prefix / "error.log").read_text(errors="replace")[-4000:]
        except OSError:
            return "(no error log)"

    def stop(self) -> None:
        """Stop nginx (SIGKILL if it lingers) and remove its files."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(STOP_TIMEOUT)
            if self.proc is not None and self.proc.stderr is not None:
                self.proc.stderr.close()
        finally:
            shutil.rmtree(self.prefix, ignore_errors=True)


def require(program: str | None, name: str) -> None:
    """Skip without ``program``, but fail in CI, whose setup installs it."""
    if program is None:
        message = f"{name} is not installed (make system-deps installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def proxy_for(host: Host) -> Nginx:
    """A started nginx in front of ``host``; the caller stops it."""
    require(nginx_binary(), "nginx")
    require(shutil.which("openssl"), "openssl")
    http_port = int(host.url.split(":")[2].split("/")[0])
    ws_port = int(host.ws_url.rstrip("/").rsplit(":", 1)[1])
    server = Nginx(http_port, ws_port)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


def proxied_host() -> Iterator[Host]:
    """Body of a module fixture: a host configured for nginx as README says
    (``trusted_proxies``, ``websocket_url = wss://{host}/websockify``)."""
    directory = Path(tempfile.mkdtemp(prefix="scconf", dir="/tmp"))
    config = directory / "serialconsole.conf"
    config.write_text(
        "[server]\ntrusted_proxies = 127.0.0.1 ::1\n\n"
        "[serialconsole]\nwebsocket_url = wss://{host}/websockify\n"
    )
    try:
        yield from shared_host("--config", str(config))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def running_proxy(host: Host) -> Iterator[Nginx]:
    """Body of a module fixture: nginx in front of ``host``, stopped at the end."""
    server = proxy_for(host)
    try:
        yield server
    finally:
        server.stop()


class FromAddress(HTTPAdapter):
    """Connections from one loopback address (127.0.0.2, ...): one client each."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str, server: Nginx) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.cert)
    session.mount("https://", FromAddress(address))
    return session
