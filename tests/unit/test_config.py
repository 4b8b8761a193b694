"""The host's configuration: file, command-line overrides, defaults, the shipped sample."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from plugin_serialconsole import plugin
from plugin_serialconsole import settings as settings_module
from plugin_serialconsole.bridge.accept import HandlerLimits
from plugin_serialconsole.console.spec import ConsoleSettings
from plugin_serialconsole.host import cli
from plugin_serialconsole.host import config as host_config
from plugin_serialconsole.host.config import ConfigError, load
from plugin_serialconsole.host.options import OPTION_KEYS, OPTION_SECTIONS, build_parser, overrides

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "contrib" / "serialconsole.conf"


@pytest.fixture
def no_default_file(monkeypatch, tmp_path):
    """The machine's /etc/serialconsole/serialconsole.conf must not leak into tests."""
    monkeypatch.setattr(host_config, "DEFAULT_PATH", tmp_path / "absent.conf")
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "serialconsole.conf"
    path.write_text(text)
    return path


def parse(*argv: str) -> configparser.ConfigParser:
    args = build_parser().parse_args(argv)
    return load(args.config, overrides(args))


def known_keys() -> dict[tuple[str, str], str]:
    """Every key somebody reads, with its default."""
    keys = {
        (section, key): value
        for section, defaults in host_config.HOST_DEFAULTS.items()
        for key, value in defaults.items()
    }
    keys.update({(plugin.NAME, key): value for key, value in settings_module.DEFAULTS.items()})
    return keys


def sample_keys() -> dict[tuple[str, str], str]:
    """The keys the sample documents (``# key = default`` lines) with their values."""
    found, section = {}, None
    for line in SAMPLE.read_text().splitlines():
        if match := re.fullmatch(r"\[(\w+)\]", line):
            section = match.group(1)
        elif match := re.fullmatch(r"# (\w+) = ?(.*)", line):
            found[(section, match.group(1))] = match.group(2)
    return found


def test_defaults_without_a_file(no_default_file):
    config = parse()
    server = config["server"]
    assert (server["host"], server["port"], server["ws_port"]) == ("127.0.0.1", "8010", "64667")
    assert server["uri"] == host_config.DEFAULT_URI
    assert config["logging"]["level"] == "INFO"
    assert not config.has_section("serialconsole")  # the plugin fills in its own defaults
    settings = settings_module.Settings.from_config(config)
    assert settings.console == ConsoleSettings(
        token_ttl=60, idle_timeout=1800, grace=60, ring_size=262144
    )
    assert settings.max_viewers == 10
    assert settings.websocket_limits == HandlerLimits(max_handlers=1024, handshake_timeout=5)


def test_websocket_limits_from_the_command_line(no_default_file):
    config = parse("--max-ws-handlers", "7", "--ws-handshake-timeout", "2.5")
    limits = settings_module.Settings.from_config(config).websocket_limits
    assert limits == HandlerLimits(max_handlers=7, handshake_timeout=2.5)


def test_reattach_settings_from_the_command_line(no_default_file):
    config = parse("--reattach-grace", "0", "--ring-size", "4096", "--max-viewers", "0")
    settings = settings_module.Settings.from_config(config)
    assert (settings.console.grace, settings.console.ring_size, settings.max_viewers) == (
        0,
        4096,
        0,
    )


def test_file_sets_and_command_line_overrides(no_default_file, tmp_path):
    path = write(
        tmp_path,
        "[server]\nport = 9000\nws_port = 9001\nuri = test:///default\n"
        "[serialconsole]\ntoken_ttl = 30\nidle_timeout = 5\n"
        "[logging]\nlevel = warning\n[otherplugin]\nkey = kept\n",
    )
    config = parse("--config", str(path), "--port", "9100", "--token-ttl", "7")
    assert config["server"]["port"] == "9100"
    assert config["server"]["ws_port"] == "9001"
    assert config["server"]["uri"] == "test:///default"
    assert config["serialconsole"]["token_ttl"] == "7.0"
    assert config["serialconsole"]["idle_timeout"] == "5"
    assert config["logging"]["level"] == "WARNING"
    assert config["otherplugin"]["key"] == "kept"


def test_mock_and_uri_the_command_line_wins(no_default_file, tmp_path):
    mock_file = write(tmp_path, "[server]\nmock = yes\nuri = qemu:///system\n")
    assert parse("--config", str(mock_file))["server"]["uri"] == host_config.mock_uri()
    assert parse("--config", str(mock_file), "--uri", "test:///default")["server"]["uri"] == (
        "test:///default"
    )
    uri_file = write(tmp_path, "[server]\nuri = qemu:///session\n")
    assert parse("--config", str(uri_file), "--mock")["server"]["uri"] == host_config.mock_uri()


def test_allowed_origins_repeat_on_the_command_line(no_default_file):
    config = parse("--allowed-origin", "https://a.example", "--allowed-origin", "https://b")
    assert settings_module.Settings.from_config(config).allowed_origins == (
        "https://a.example",
        "https://b",
    )


def test_trusted_proxies_repeat_on_the_command_line(no_default_file):
    assert parse()["server"]["trusted_proxies"] == ""
    config = parse("--trusted-proxy", "127.0.0.1", "--trusted-proxy", "::1")
    assert config["server"]["trusted_proxies"] == "127.0.0.1 ::1"


def test_default_file_is_read_when_present(no_default_file, monkeypatch, tmp_path):
    monkeypatch.setattr(host_config, "DEFAULT_PATH", write(tmp_path, "[server]\nport = 1234\n"))
    assert parse()["server"]["port"] == "1234"


def test_run_dir_follows_systemd_runtime_directory(no_default_file, monkeypatch):
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/serialconsole")
    assert parse()["server"]["run_dir"] == "/run/serialconsole"
    assert parse("--run-dir", "/tmp/x")["server"]["run_dir"] == "/tmp/x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = http\n", "port"),
        ("[server]\nws_port = 70000\n", "ws_port"),
        ("[server]\nmock = perhaps\n", "mock"),
        ("[server]\ntrusted_proxies = 127.0.0.1 nginx\n", "trusted_proxies: .*'nginx'"),
        ("[logging]\nlevel = LOUD\n", "level"),
        ("[logging]\nlevels = cherrypy\n", "levels"),
        ("port = 1\n", "section"),
        ("[server]\nport = 1\nport = 2\n", "port"),
        ("[server]\nheader_timeout = 0\n", "header_timeout"),
        ("[server]\nbody_timeout = soon\n", "body_timeout"),
        ("[server]\nconnections_per_address = 0\n", "connections_per_address"),
        ("[server]\nmax_connections = many\n", "max_connections"),
        ("[server]\nsession_timeout = nan\n", "session_timeout"),
        ("[server]\nsession_timeout = inf\n", "session_timeout"),
    ],
)
def test_wrong_values_are_refused_with_the_key(no_default_file, tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load(write(tmp_path, text))


def test_explicit_missing_file_is_an_error(no_default_file, tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.conf")


def test_unknown_host_keys_are_warned_about(no_default_file, tmp_path, caplog):
    load(write(tmp_path, "[server]\nprot = 1\n"))
    assert "unknown keys: prot" in caplog.text


def test_command_line_errors_exit_2_with_the_reason(no_default_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "configure_stderr", lambda *args: None)  # keep pytest's logging
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--config", str(write(tmp_path, "[server]\nport = x\n"))])
    assert exit_.value.code == 2
    assert "[server] port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"token_ttl": "soon"}, "token_ttl"),
        ({"token_ttl": "0"}, "token_ttl"),
        ({"idle_timeout": "-1"}, "idle_timeout"),
        ({"websocket_url": "https://{host}/"}, "websocket_url"),
        ({"websocket_url": "wss://{port}/"}, "placeholder"),
        ({"token_ttl": "inf"}, "token_ttl"),
        ({"reattach_grace": "-1"}, "reattach_grace"),
        ({"reattach_grace": "nan"}, "reattach_grace"),
        ({"ring_size": "4095"}, "ring_size"),
        ({"ring_size": "67108865"}, "ring_size"),
        ({"log_size": "67108865"}, "log_size"),  # a log is read whole by a download
        ({"ring_size": "65536.5"}, "ring_size"),
        ({"ring_size": "256k"}, "ring_size"),
        ({"max_viewers": "-1"}, "max_viewers"),
        ({"max_viewers": "2.5"}, "max_viewers"),
        ({"max_ws_handlers": "0"}, "max_ws_handlers"),
        ({"max_ws_handlers": "1.5"}, "max_ws_handlers"),
        ({"ws_handshake_timeout": "0"}, "ws_handshake_timeout"),
        ({"ws_handshake_timeout": "inf"}, "ws_handshake_timeout"),
        ({"escape_key": "ctrl-x"}, "escape_key"),
        ({"allow_break": "maybe"}, "allow_break"),
    ],
)
def test_plugin_refuses_wrong_values_of_its_section(values, message):
    config = configparser.ConfigParser(interpolation=None)
    config["serialconsole"] = values
    with pytest.raises(ValueError, match=message):
        settings_module.Settings.from_config(config)


def test_escape_key_and_break_settings():
    config = configparser.ConfigParser(interpolation=None)
    assert settings_module.Settings.from_config(config).escape_key == "ctrl-q"
    assert settings_module.Settings.from_config(config).allow_break is False
    config["serialconsole"] = {"escape_key": "CTRL-]", "allow_break": "yes"}
    settings = settings_module.Settings.from_config(config)
    assert (settings.escape_key, settings.allow_break) == ("ctrl-]", True)


def test_empty_plugin_values_mean_the_default():
    config = configparser.ConfigParser(interpolation=None)
    config["serialconsole"] = {"token_ttl": "", "websocket_url": " "}
    settings = settings_module.Settings.from_config(config)
    assert settings.console.token_ttl == 60
    assert settings.websocket_url.template == settings_module.DEFAULTS["websocket_url"]


def test_every_option_has_a_key_and_every_key_is_in_the_sample():
    options = {
        action.dest for action in build_parser()._actions if action.dest not in ("help", "config")
    }
    assert options == set(OPTION_KEYS) | set(OPTION_SECTIONS)
    documented = sample_keys()
    assert set(OPTION_KEYS.values()) <= set(known_keys())
    assert set(known_keys()) <= set(documented), "keys missing from the sample"
    assert set(documented) <= set(known_keys()), "keys nobody reads"


def test_sample_shows_the_real_defaults():
    documented = sample_keys()
    for key, default in known_keys().items():
        assert documented[key] == default, key


def test_sample_loads_as_shipped_and_uncommented(no_default_file, tmp_path):
    assert load(SAMPLE)["server"]["port"] == "8010"
    uncommented = re.sub(r"(?m)^# (\w+ = ?.*)$", r"\1", SAMPLE.read_text())
    config = load(write(tmp_path, uncommented))
    assert config["server"]["host"] == "127.0.0.1"
    settings = settings_module.Settings.from_config(config)
    assert settings.websocket_url.template == "ws://{hostname}:{ws_port}/"


def test_users_file_comes_from_systemd_credentials_when_passed(
    no_default_file, monkeypatch, tmp_path
):
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert parse()["server"]["users_file"] == str(host_config.DEFAULT_USERS_FILE)
    (tmp_path / "users").write_text("")
    assert parse()["server"]["users_file"] == str(tmp_path / "users")
    assert parse("--users-file", "/srv/u")["server"]["users_file"] == "/srv/u"


def test_login_is_required_beyond_loopback_and_needs_a_users_file(no_default_file, tmp_path):
    with pytest.raises(ConfigError, match="loopback"):
        host_config.check_auth(parse("--auth", "none", "--host", "0.0.0.0")["server"])
    host_config.check_auth(parse("--auth", "none")["server"])
    with pytest.raises(ConfigError, match="serialconsole-passwd"):
        host_config.check_auth(parse("--users-file", str(tmp_path / "absent"))["server"])
    (tmp_path / "users").write_text("")
    host_config.check_auth(parse("--users-file", str(tmp_path / "users"))["server"])
    with pytest.raises(ConfigError, match="auth"):
        load(write(tmp_path, "[server]\nauth = maybe\n"))
