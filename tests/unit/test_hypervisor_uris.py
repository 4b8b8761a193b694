"""Hypervisors by name in the configuration, and URIs that never show their credentials."""

from __future__ import annotations

import pytest

from plugin_serialconsole.host import config as host_config
from plugin_serialconsole.host.config import ConfigError, load
from plugin_serialconsole.host.options import build_parser, overrides
from plugin_serialconsole.hypervisor_uris import (
    hypervisors_from_config,
    redact_message,
    redact_uri,
)


@pytest.fixture(autouse=True)
def no_default_file(monkeypatch, tmp_path):
    monkeypatch.setattr(host_config, "DEFAULT_PATH", tmp_path / "absent.conf")
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)


def parse(*argv: str):
    args = build_parser().parse_args(argv)
    return load(args.config, overrides(args))


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("qemu:///system", "qemu:///system"),
        (
            "qemu+tls://hv1.example.org/system?pkipath=/secret/pki",
            "qemu+tls://hv1.example.org/system?pkipath=***",
        ),
        (
            "qemu+ssh://root@hv2:2222/system?keyfile=/k&known_hosts=/kh&no_verify=1",
            "qemu+ssh://root@hv2:2222/system?keyfile=***&known_hosts=***&no_verify=***",
        ),
        ("qemu+tcp://user:hunter2@hv3/system", "qemu+tcp://user:***@hv3/system"),
        ("qemu+tcp://hv3/system?garbage", "qemu+tcp://hv3/system?garbage=***"),
    ],
)
def test_a_uri_is_shown_without_its_parameters_values_or_password(uri, shown):
    assert redact_uri(uri) == shown


def test_the_uri_alone_is_the_hypervisor_named_default():
    config = parse("--uri", "test:///default")
    assert hypervisors_from_config(config) == {"default": "test:///default"}


def test_no_uri_and_no_hypervisors_is_the_default_uri_as_before():
    config = parse()
    assert config["server"]["uri"] == host_config.DEFAULT_URI
    assert hypervisors_from_config(config) == {"default": host_config.DEFAULT_URI}


def test_hypervisors_from_the_file_and_the_command_line_keep_their_order(tmp_path):
    path = tmp_path / "serialconsole.conf"
    path.write_text("[hypervisors]\nHV1 = test:///one\nhv2 = test:///two\n")
    config = parse("--config", str(path), "--hypervisor", "hv3=test:///three")
    assert hypervisors_from_config(config) == {
        "hv1": "test:///one",
        "hv2": "test:///two",
        "hv3": "test:///three",
    }
    assert config["server"]["uri"] == "test:///one"  # who reads the one URI gets the first


def test_uri_and_hypervisors_together():
    config = parse("--uri", "test:///default", "--hypervisor", "b=test:///b")
    assert hypervisors_from_config(config) == {"default": "test:///default", "b": "test:///b"}


def test_a_default_hypervisor_besides_uri_is_refused():
    with pytest.raises(ConfigError, match="default"):
        parse("--uri", "test:///one", "--hypervisor", "default=test:///two")


@pytest.mark.parametrize("option", ["nouri", "=test:///x", "a/b=test:///x", "x="])
def test_a_malformed_hypervisor_option_is_a_usage_error(option, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--hypervisor", option])
    assert exit_.value.code == 2
    assert "--hypervisor" in capsys.readouterr().err


def test_a_bad_name_or_empty_uri_in_the_file_is_refused(tmp_path):
    path = tmp_path / "serialconsole.conf"
    path.write_text("[hypervisors]\nhv one = test:///one\n")
    with pytest.raises(ConfigError, match="hypervisor name"):
        load(path)
    path.write_text("[hypervisors]\nhv1 =\n")
    with pytest.raises(ConfigError, match="hv1: no URI"):
        load(path)


def test_a_malformed_option_does_not_echo_credentials(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--hypervisor", "qemu+tls://h/s?pkipath=/secret"])
    assert "/secret" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("message", "uri", "shown"),
    [
        (  # no_tty=1 once hid every "1" of the text
            "unable to connect to host 10.1.1.21: no route",
            "qemu+ssh://root@10.1.1.21/system?no_tty=1&known_hosts_verify=ignore",
            "unable to connect to host 10.1.1.21: no route",
        ),
        (
            "cannot read /etc/pki/hv1/clientcert.pem (mode=tls)",
            "qemu+tls://hv1/system?pkipath=/etc/pki/hv1&mode=tls",
            "cannot read ***/clientcert.pem (mode=tls)",
        ),
        (
            "no key in /home/svc/.ssh/hv2 or /home/svc/.ssh/hv2.pub; see /home/svc/.ssh/kh",
            "qemu+ssh://svc@hv2/system?keyfile=/home/svc/.ssh/hv2&known_hosts=/home/svc/.ssh/kh",
            "no key in *** or ***.pub; see ***",
        ),
        (
            "password s3cret refused, not s3cret2",
            "qemu+tcp://svc:s3cret@hv3/system?authfile=/etc/auth.conf",
            "password *** refused, not s3cret2",
        ),
    ],
)
def test_a_message_loses_credentials_and_only_them(message, uri, shown):
    assert redact_message(message, uri) == shown
