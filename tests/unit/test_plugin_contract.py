"""The host contract: discovery through entry points, and the plugin's hooks."""

from __future__ import annotations

import configparser
import inspect
import logging
from pathlib import Path

import pytest

from plugin_serialconsole import hookimpl, hookspecs
from plugin_serialconsole.host.config import mock_uri
from plugin_serialconsole.host.hypervisors import Hypervisors
from plugin_serialconsole.host.plugins import get_plugin_manager
from plugin_serialconsole.plugin import MOUNT_POINT, SerialConsolePlugin
from plugin_serialconsole.settings import Settings


def test_every_hook_is_documented_and_has_typed_arguments():
    specs = [f for n, f in vars(hookspecs).items() if n.startswith("wok_")]
    assert len(specs) == 6
    for spec in specs:
        assert inspect.getdoc(spec), spec.__name__
        assert all(
            p.annotation is not inspect.Parameter.empty
            for p in inspect.signature(spec).parameters.values()
        )


def test_the_plugin_implements_every_hook():
    specs = {name for name in vars(hookspecs) if name.startswith("wok_")}
    assert specs == {name for name in vars(SerialConsolePlugin) if name.startswith("wok_")}


def test_installed_plugin_is_discovered_through_the_entry_point():
    manager = get_plugin_manager()
    plugin = manager.get_plugin("serialconsole")
    assert isinstance(plugin, SerialConsolePlugin)
    (info,) = manager.hook.wok_plugin_info()
    assert info.name == "serialconsole"
    assert info.mount_point == MOUNT_POINT == "/plugins/serialconsole"
    assert info.gettext_domain == "serialconsole"
    assert info.tabs


def test_throwaway_plugin_is_called_with_keyword_arguments():
    seen = []

    class Throwaway:
        @hookimpl
        def wok_plugin_start(self, host):
            seen.append(host)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(Throwaway(), name="throwaway")
    manager.hook.wok_plugin_start(host="the-host")
    assert seen == ["the-host"]
    with pytest.raises(TypeError):
        manager.hook.wok_plugin_start("positional")


class FakeHost:
    def __init__(self, run_dir: Path) -> None:
        self.config = configparser.ConfigParser()
        self.config["server"] = {
            "host": "127.0.0.1",
            "port": "0",
            "ws_port": "0",
            "uri": mock_uri(),
        }
        self.run_dir = run_dir
        self.logger = logging.getLogger("test")

    def connection(self):
        raise AssertionError("not needed")

    def hypervisors(self):
        return Hypervisors({"default": mock_uri()})

    def check_auth(self):
        return "tester"


def test_app_is_mounted_at_the_mount_point_and_start_stop_leave_nothing(short_dir):
    plugin = SerialConsolePlugin()
    host = FakeHost(short_dir)
    app = plugin.wok_plugin_app(host=host)
    assert app.mount_point == MOUNT_POINT
    assert (short_dir / "consoles").is_dir(), "made (and checked) before the start hook"
    stale = short_dir / "consoles" / "stale-file"
    stale.write_text("")
    urls = plugin.wok_plugin_start(host=host)
    try:
        assert urls == [f"ws://127.0.0.1:{plugin.bridge.port}/"]
        assert plugin.bridge.pid is not None and plugin.bridge.port > 0
        assert (short_dir / "consoles").stat().st_mode & 0o777 == 0o700
        assert (short_dir / "tokens").stat().st_mode & 0o777 == 0o700
    finally:
        plugin.wok_plugin_stop(host=host)
    assert plugin.bridge.pid is None


def test_settings_defaults_and_validation():
    config = configparser.ConfigParser()
    settings = Settings.from_config(config)
    assert (
        settings.console.token_ttl,
        settings.console.idle_timeout,
        settings.allowed_origins,
    ) == (60, 1800, ())
    config["serialconsole"] = {"allowed_origins": "https://a.example, https://b.example"}
    assert Settings.from_config(config).allowed_origins == (
        "https://a.example",
        "https://b.example",
    )
    config["serialconsole"] = {"token_ttl": "0"}
    with pytest.raises(ValueError):
        Settings.from_config(config)
