"""The adapter inside the Wok stand-in (``tests/integration/wokstandin``), as a subprocess:
the shim and conf file installed in a plugins directory the way the packages install them."""

from __future__ import annotations

import configparser
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

from .host import HTTP_TIMEOUT, READY_TIMEOUT, STOP_TIMEOUT
from .procs import kill_pids, processes_mentioning, run_dir_leftovers
from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
STANDIN = ROOT / "tests" / "integration" / "wokstandin"
SHIM = ROOT / "contrib" / "wok" / "serialconsole"
CONF = ROOT / "contrib" / "wok" / "serialconsole.conf"
PASSWORD = "wok-pw"
# Wok's operators: a sudoer (role admin) and a plain user, with their Unix groups.
OPERATORS = {
    "alice": {"password": PASSWORD, "role": "admin", "groups": ["alice", "wheel"]},
    "bob": {"password": PASSWORD, "role": "user", "groups": ["bob", "ops"]},
}


def install_plugin(
    plugins_dir: Path,
    run_dir: Path,
    plugin: dict[str, str] | None = None,
    hypervisors: dict[str, str] | None = None,
    **server: str,
) -> Path:
    """The shim as ``<plugins_dir>/serialconsole/`` with the shipped conf file, its
    ``[server]`` given a run dir, a free WebSocket port and ``server``'s keys, its
    ``[serialconsole]`` ``plugin``'s, its ``[hypervisors]`` ``hypervisors``."""
    plugin_dir = plugins_dir / "serialconsole"
    plugin_dir.mkdir(parents=True)
    shutil.copy(SHIM / "__init__.py", plugin_dir / "__init__.py")
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(CONF)
    conf["server"].update({"ws_port": "0", "run_dir": str(run_dir), **server})
    conf["serialconsole"]["websocket_url"] = "ws://{hostname}:{ws_port}/"  # no nginx here
    # Like the integration hosts: captures only where a test asks, logs in its own dir.
    conf["serialconsole"].setdefault("capture", "none")
    conf["serialconsole"]["state_dir"] = str(run_dir.parent / "state")
    conf["serialconsole"].update(plugin or {})
    if hypervisors:
        conf["hypervisors"] = hypervisors
    with open(plugin_dir / "serialconsole.conf", "w") as file:
        conf.write(file)
    return plugin_dir


class WokStandin:
    """One stand-in Wok with the plugin, on a free loopback port (``--test``: mock model)."""

    def __init__(
        self,
        *options: str,
        plugin: dict[str, str] | None = None,
        hypervisors: dict[str, str] | None = None,
        **server: str,
    ) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="wok", dir="/tmp"))
        self.run_dir = self.base / "run"
        self.request_log = self.base / "requests.log"
        self.plugin_dir = install_plugin(
            self.base / "plugins", self.run_dir, plugin, hypervisors, **server
        )
        self.options = options or ("--test",)
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> WokStandin:
        env = {
            **os.environ,
            "PYTHONPATH": f"{STANDIN}{os.pathsep}{ROOT}",
            "WOKSTANDIN_PLUGINS_DIR": str(self.base / "plugins"),
            "WOKSTANDIN_REQUEST_LOG": str(self.request_log),
            "WOKSTANDIN_USERS": json.dumps(OPERATORS),
        }
        with open(self.base / "wok.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(STANDIN / "serve.py"), *self.options],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env,
            )  # fmt: skip
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:  # the URL, once serving
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            ready = selector.select(READY_TIMEOUT)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        assert line.startswith("http://"), f"stand-in Wok did not start:\n{self.log()}"
        self.url = line
        return self

    def log(self) -> str:
        return (self.base / "wok.log").read_text(errors="replace")[-8000:]

    def plugin(self, path: str) -> str:
        return f"{self.url}plugins/serialconsole/{path}"

    def login(self, name: str) -> requests.Session:
        """A browser logged in to Wok: its ``wok`` cookie, and the header Wok's UI sends."""
        browser = requests.Session()
        answer = browser.post(
            self.url + "login",
            json={"username": name, "password": PASSWORD},
            timeout=HTTP_TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        # Wok marks it Secure (its nginx speaks HTTPS), which keeps it off plain HTTP: the
        # browser here sends it all the same, as browsers do to a loopback address.
        browser.headers["Cookie"] = f"wok={answer.cookies['wok']}"
        return browser

    def activity(self) -> list[dict[str, Any]]:
        """Wok's request log entries so far."""
        if not self.request_log.exists():
            return []
        return [json.loads(line) for line in self.request_log.read_text().splitlines()]

    def finish(self) -> None:
        """SIGTERM; it must exit 0 and leave no process, socket or token behind."""
        try:
            if self.proc is None:
                return
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(STOP_TIMEOUT)
            assert code == 0, f"stand-in Wok exited {code}\n{self.log()}"
            wait_for(lambda: not self.leftovers(), 5.0, "Wok's stop to leave nothing")
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(READY_TIMEOUT)
            kill_pids(processes_mentioning(str(self.run_dir)))
            shutil.rmtree(self.base, ignore_errors=True)

    def leftovers(self) -> dict[str, Any]:
        return run_dir_leftovers(self.run_dir)
