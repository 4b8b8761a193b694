"""The Wok adapter's pieces that need no Wok: identity, configuration, activity log."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from plugin_serialconsole import i18n
from plugin_serialconsole.activity import Activity
from plugin_serialconsole.host.config import load, mock_uri
from plugin_serialconsole.hypervisor_uris import hypervisors_from_config
from plugin_serialconsole.wok.activity_log import ActivityLog
from plugin_serialconsole.wok.host import (
    SERVER_KEYS,
    WOK_WS_PORT,
    WokConfigError,
    WokHost,
    load_config,
)
from plugin_serialconsole.wok.identity import identity_of, needs_csrf_header

COOKIE = {"Cookie": "wok=abc123"}
SHIPPED_CONF = Path(__file__).resolve().parents[2] / "contrib" / "wok" / "serialconsole.conf"


def test_a_wok_admin_has_every_right_and_a_user_their_groups():
    admin = identity_of("alice", "admin", ["wheel"], "GET", {}, via_cookie=False)
    user = identity_of("bob", "user", ["bob", "ops"], "GET", {}, via_cookie=False)
    assert admin.all_rights and admin.groups == frozenset({"wheel"})
    assert not user.all_rights and user.groups == frozenset({"bob", "ops"})
    assert identity_of("carol", "user", None, "GET", {}, via_cookie=False).groups == frozenset()


def test_a_cookie_login_is_bound_to_its_session_and_basic_to_none():
    on_cookie = identity_of("alice", "admin", [], "GET", COOKIE, via_cookie=True)
    assert on_cookie.session_cookie == "wok"
    assert on_cookie.session_digest == hashlib.sha256(b"abc123").hexdigest()
    basic = identity_of("alice", "admin", [], "GET", COOKIE, via_cookie=False)
    assert basic.session_cookie is None and basic.session_digest is None


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("POST", COOKIE, True),
        ("DELETE", COOKIE, True),
        ("POST", {**COOKIE, "X-Requested-With": "XMLHttpRequest"}, False),
        ("POST", {**COOKIE, "X-CSRF-Token": "t"}, False),
        ("POST", {**COOKIE, "X-Requested-With": " "}, True),
        ("GET", COOKIE, False),
        ("POST", {}, False),  # no cookie: Basic or nothing, no CSRF to fear
    ],
)
def test_a_state_change_on_the_wok_cookie_needs_a_header_foreign_pages_cannot_send(
    method, headers, refused
):
    assert needs_csrf_header(method, headers) is refused
    identity = identity_of("alice", "admin", [], method, headers, via_cookie=True)
    assert identity.csrf_ok is not refused


def options(**values):
    return SimpleNamespace(
        **{"cherrypy_port": 8010, "websockets_port": 64667, "test": "", **values}
    )


def test_wok_test_mode_gives_the_mock_model_and_the_consoles_their_own_port(tmp_path):
    config = load_config(options(test="True"), tmp_path / "absent.conf")
    server = config["server"]
    assert server["uri"] == mock_uri()
    assert server["ws_port"] == WOK_WS_PORT != "64667"
    assert (server["host"], server["port"]) == ("127.0.0.1", "8010")
    assert server["run_dir"].endswith("-wok")


def test_the_conf_file_sets_server_keys_and_the_plugin_section(tmp_path):
    conf = tmp_path / "serialconsole.conf"
    conf.write_text(
        "[wok]\nenable = True\n[server]\nws_port = 7000\nuri = test:///default\n"
        "[serialconsole]\ntoken_ttl = 30\n"
    )
    config = load_config(options(), conf)
    assert config["server"]["ws_port"] == "7000"
    assert config["server"]["uri"] == "test:///default"
    assert config["serialconsole"]["token_ttl"] == "30"


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("ws_port = 64667", "Wok's own websockets_port"),
        ("ws_port = http", "not a port number"),
        ("port = 9000", "takes only ws_port, uri, run_dir"),
    ],
)
def test_a_conf_file_the_adapter_cannot_use_is_refused(tmp_path, server, message):
    conf = tmp_path / "serialconsole.conf"
    conf.write_text(f"[server]\n{server}\n")
    with pytest.raises(WokConfigError, match=message):
        load_config(options(), conf)


MOCK2 = mock_uri("mock/mock2.xml")


def wok_hypervisors(tmp_path, text: str, **values: str) -> dict[str, str]:
    """The hypervisors the adapter connects to with ``text`` as its conf file."""
    conf = tmp_path / "serialconsole.conf"
    conf.write_text(text)
    host = WokHost(load_config(options(**values), conf), tmp_path)
    try:
        hypervisors = host.hypervisors()
        return {name: hypervisors.get(name).uri for name in hypervisors.names()}
    finally:
        host.close()


def test_under_wok_the_conf_file_names_hypervisors_beside_uri(tmp_path):
    text = f"[server]\nuri = test:///default\n[hypervisors]\nHV2 = {MOCK2}\n"
    assert wok_hypervisors(tmp_path, text) == {"default": "test:///default", "hv2": MOCK2}


def test_under_wok_named_hypervisors_without_uri_are_all(tmp_path, monkeypatch):
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    text = f"[hypervisors]\none = {mock_uri()}\ntwo = {MOCK2}\n"
    assert wok_hypervisors(tmp_path, text) == {"one": mock_uri(), "two": MOCK2}


def test_wok_test_mode_keeps_the_mock_as_default_beside_named_hypervisors(tmp_path):
    text = f"[server]\nuri = qemu:///system\n[hypervisors]\nsecond = {MOCK2}\n"
    assert wok_hypervisors(tmp_path, text, test="True") == {
        "default": mock_uri(),
        "second": MOCK2,
    }


def test_wok_test_mode_gives_a_second_mock_hypervisor_as_the_standalone_mock_does(tmp_path):
    text = "[server]\nmock_hypervisors = 2\n"
    assert wok_hypervisors(tmp_path, text, test="True") == {
        "default": mock_uri(),
        "mock2": MOCK2,
    }


def test_a_literal_percent_in_a_hypervisor_uri_is_written_as_wok_reads_it(tmp_path):
    """Wok reads the file with interpolation: what it means by %% is what we connect to."""
    conf = tmp_path / "serialconsole.conf"
    conf.write_text("[server]\nuri = test:///default\n[hypervisors]\nhv = test:///a%%20b\n")
    config = load_config(options(), conf)
    assert hypervisors_from_config(config)["hv"] == "test:///a%20b"


@pytest.mark.parametrize(
    "uri", ["qemu+ssh://ops:Pa%24w0rd@hv2/system?keyfile=/etc/k", "qemu+ssh://hv2/?k=%(Pa$$)s"]
)
def test_a_lone_percent_in_a_uri_is_refused_without_showing_the_uri(tmp_path, uri):
    """Interpolation's error quoted the rest of the value, and Wok logs it: a password
    written percent-encoded landed in its log."""
    conf = tmp_path / "serialconsole.conf"
    conf.write_text(f"[hypervisors]\nhv2 = {uri}\n")
    with pytest.raises(WokConfigError, match=r"\[hypervisors\] hv2: .* write a literal") as refused:
        load_config(options(test="True"), conf)
    assert "w0rd" not in str(refused.value) and "Pa$$" not in str(refused.value)
    assert "keyfile" not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[hypervisors]\nbad/name = test:///default\n", "hypervisor name 'bad/name'"),
        ("[hypervisors]\nhv =\n", "hv: no URI"),
        ("[server]\nuri = test:///a\n[hypervisors]\ndefault = test:///b\n", "default"),
        ("[server]\nmock_hypervisors = 3\n", "mock_hypervisors: 1 to 2"),
    ],
)
def test_hypervisors_the_adapter_cannot_use_are_refused(tmp_path, text, message):
    conf = tmp_path / "serialconsole.conf"
    conf.write_text(text)
    with pytest.raises(WokConfigError, match=message):
        load_config(options(test="True"), conf)


@pytest.mark.parametrize(
    "text",
    [
        "[server]\nuri = test:///default\n",
        "[hypervisors]\nhv1 = test:///one\nHV2 = test:///two\n",
        "[server]\nuri = test:///default\n[hypervisors]\nb = test:///b\n",
        "",
    ],
)
def test_wok_and_the_standalone_host_read_hypervisors_alike(tmp_path, monkeypatch, text):
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    conf = tmp_path / "serialconsole.conf"
    conf.write_text(text)
    standalone = load(conf)
    assert hypervisors_from_config(load_config(options(), conf)) == hypervisors_from_config(
        standalone
    )
    assert hypervisors_from_config(standalone)  # never none


def test_the_shipped_conf_file_shows_every_key_the_adapter_reads_and_loads_as_is(tmp_path):
    text = SHIPPED_CONF.read_text()
    for key in SERVER_KEYS:
        assert f"\n# {key} =" in text, f"contrib/wok/serialconsole.conf lacks {key}"
    assert "\n[hypervisors]\n" in text
    config = load_config(options(test="True"), SHIPPED_CONF)
    assert hypervisors_from_config(config) == {"default": mock_uri()}


def test_activity_goes_to_wok_request_log_and_other_records_do_not():
    entries = []
    handler = ActivityLog("/plugins/serialconsole", lambda *a, **kw: entries.append((a, kw)))
    logger = logging.getLogger("plugin_serialconsole.model.console_sessions")
    handler.install()
    try:
        opened = Activity(i18n.SESSION_OPENED, {"guest": "vm", "device": "serial0"}, "bob")
        logger.info("opened", extra=opened.extra())
        logger.info("not an activity")
    finally:
        handler.remove()
    logger.info("after removal", extra=opened.extra())
    [(args, names)] = entries
    assert args == (i18n.SESSION_OPENED, {"guest": "vm", "device": "serial0"}, None, "POST", 200)
    assert names == {"app": "/plugins/serialconsole", "user": "bob", "ip": "N/A"}


def test_activity_off_any_request_has_no_address_whatever_the_shared_request_holds(
    monkeypatch,
):
    """A console ends on a watcher thread: cherrypy's stand-in request there (one object
    shared by every thread, which a host may have given an ``app``) is no client's."""
    import cherrypy

    monkeypatch.setattr(cherrypy.serving.request, "app", object())
    entries = []
    handler = ActivityLog("/plugins/serialconsole", lambda *a, **kw: entries.append(kw))
    handler.install()
    try:
        ended = Activity(i18n.SESSION_ENDED, {"guest": "vm", "device": "serial0"}, "bob")
        logging.getLogger("plugin_serialconsole.x").info("ended", extra=ended.extra())
    finally:
        handler.remove()
    assert [entry["ip"] for entry in entries] == ["N/A"]


def test_a_plugin_wok_leaves_out_leaves_no_hypervisor_connection_running(tmp_path, monkeypatch):
    """The hypervisors were connected before the plugin's own keys were checked: a bad
    key made Wok leave the plugin out, and wokd went on connecting to every hypervisor."""
    standin = Path(__file__).resolve().parents[1] / "integration" / "wokstandin"
    monkeypatch.syspath_prepend(str(standin))
    monkeypatch.setenv("WOKSTANDIN_PLUGINS_DIR", str(tmp_path))
    (tmp_path / "serialconsole").mkdir()
    run_dir = Path(tempfile.mkdtemp(prefix="scw", dir="/tmp"))  # short: socket paths
    (tmp_path / "serialconsole" / "serialconsole.conf").write_text(
        f"[server]\nrun_dir = {run_dir}/run\nuri = test:///default\n"
        "[hypervisors]\nleft-out = test:///default\n"
        "[serialconsole]\ncapture_include = :no-hypervisor\n"
    )
    from plugin_serialconsole.wok.root import Serialconsole

    with pytest.raises(ValueError, match="capture_include"):
        Serialconsole(options())
    running = [t.name for t in threading.enumerate() if t.name.startswith("libvirt ")]
    shutil.rmtree(run_dir)
    assert running == []
