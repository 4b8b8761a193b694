"""The real host with a configuration file, a log file, and configurations it refuses."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from .helpers import run_refused_host, wait_for


def test_config_file_settings_reach_the_plugin(start_host, connect, tmp_path):
    config = tmp_path / "serialconsole.conf"
    config.write_text(
        "[serialconsole]\ntoken_ttl = 17\nwebsocket_url = ws://{hostname}:{ws_port}/console\n"
    )
    host = start_host("--config", str(config))
    opened = host.open("mock-vm")
    assert opened["expires_in"] == 17
    ws_port = host.ws_url.rsplit(":", 1)[1].rstrip("/")
    assert opened["ws_url"] == f"ws://127.0.0.1:{ws_port}/console?token={opened['token']}"
    connect(opened["ws_url"]).banner()  # websockify serves any path; the token decides


def test_log_file_gets_the_host_and_its_console_processes(start_host, connect, tmp_path):
    log_file = tmp_path / "serialconsole.log"
    host = start_host("--log-file", str(log_file), "--log-level", "debug")
    console = connect(host.open("mock-vm")["ws_url"])
    console.banner()
    console.send(b"\x11")  # Ctrl+Q ends the console
    console.read_until_close()
    host.assert_idle()

    def both_children_logged() -> str | None:
        text = log_file.read_text()
        return text if "console[" in text and "websockify[" in text else None

    text = wait_for(both_children_logged, 5.0, "console and websockify lines in the log file")
    assert " DEBUG " in text  # the level reached the host
    assert "plugin_serialconsole" in text
    assert host.log().strip() == "", "with a log file, nothing goes to stderr"
    assert log_file.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--token-ttl", "0"], "token_ttl"),
        (["--websocket-url", "https://{host}/"], "websocket_url"),
        (["--port", "70000"], "[server] port"),
    ],
)
def test_refused_configuration_exits_2_and_says_why(options, message):
    run_dir = Path(tempfile.mkdtemp(prefix="sc", dir="/tmp"))
    try:
        result = run_refused_host(run_dir, *options)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
