"""The UI's files on a real host: negotiation at the mount point, static files, catalogs,
the pages' Content-Security-Policy, and a UI that was never built."""

from __future__ import annotations

import pytest
import requests

from .helpers import config_file, ui_without_xterm, wait_for

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_mount_point_is_the_guest_list_for_browsers(host):
    response = host.get("", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Accept" in response.headers["Vary"]
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert 'id="guests"' in response.text


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/json, text/html;q=0.9"]
)
def test_mount_point_is_json_for_api_clients(host, accept):
    headers = {"Accept": accept} if accept else {}
    response = host.get("", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["name"] == "serialconsole"


def test_mount_point_without_slash_redirects_browsers(host):
    response = requests.get(
        host.url.rstrip("/"), headers={"Accept": BROWSER_ACCEPT}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 301
    assert response.headers["Location"] == host.url


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("console.html", "text/html; charset=utf-8"),
        ("ui/js/console.js", "text/javascript; charset=utf-8"),
        ("ui/css/serialconsole.css", "text/css; charset=utf-8"),
        ("ui/config/tab-ext.xml", "application/xml; charset=utf-8"),
        ("ui/node_modules/@xterm/xterm/lib/xterm.js", "text/javascript; charset=utf-8"),
        ("ui/node_modules/@xterm/xterm/css/xterm.css", "text/css; charset=utf-8"),
        ("ui/node_modules/@xterm/addon-fit/lib/addon-fit.js", "text/javascript; charset=utf-8"),
    ],
)
def test_static_files(host, path, content_type):
    response = host.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    modified = response.headers["Last-Modified"]
    again = host.get(path, headers={"If-Modified-Since": modified})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "ui/../setup.cfg",
        "ui/%2e%2e/%2e%2e/setup.cfg",
        "ui/js/..%2f..%2f..%2fsetup.cfg",
        "ui/js/%2e%2e/%2e%2e/README.md",
        "ui/package.json",
        "ui/package-lock.json",
        "ui/node_modules/.package-lock.json",
        "ui/node_modules/@xterm/xterm/package.json",
        "ui/node_modules/@xterm/../../console.html",
        "ui/i18n/de_DE.json",
        "ui/node_modules/@xterm/xterm/src/browser/Terminal.ts",
        "ui/node_modules/@xterm/xterm/lib",
        "ui/js/",
        "ui/js",
        "ui/",
        "ui/js/.hidden.js",
        "ui/js/console.js%00.png",
        "ui//etc/passwd",
        "nope.html",
        "ui/%2Fetc%2Fpasswd",
    ],
)
def test_nothing_else_is_served(host, path):
    response = requests.get(host.url + path, timeout=5)
    assert response.status_code == 404, (path, response.status_code, response.text[:200])
    assert response.json()["code"] == "SCONS0011E"


def test_raw_dot_dot_is_refused(host):
    """A client that sends ``..`` unnormalized gets nothing outside the UI directory."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(host.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(f"GET {url.path}ui/js/../../../setup.cfg HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404"), reply[:200]
    assert b"[metadata]" not in reply


def test_ui_files_are_read_only(host):
    response = host.post("console.html")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("headers", "query", "lang", "sample"),
    [
        ({"Accept-Language": "pt-BR,pt;q=0.9"}, "", "pt-BR", "Reconectar"),
        ({"Accept-Language": "de"}, "", "de-DE", "Neu verbinden"),
        ({"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}, "", "zh-CN", "重新连接"),
        ({"Accept-Language": "nl-NL, de;q=0.5"}, "", "de-DE", "Neu verbinden"),
        ({"Accept-Language": "nl-NL, en;q=0.8, de;q=0.5"}, "", "en", None),
        ({"Accept-Language": "es-MX,es;q=0.9"}, "", "es-ES", "Reconectar"),
        ({"Accept-Language": "fr-CA"}, "", "fr-FR", "Reconnecter"),
        ({"Accept-Language": "it"}, "", "it-IT", "Riconnetti"),
        ({"Accept-Language": "ja,en-US;q=0.9"}, "", "ja-JP", "再接続"),
        ({"Accept-Language": "ko-KR"}, "", "ko-KR", "다시 연결"),
        ({"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}, "", "ru-RU", "Переподключиться"),
        ({"Accept-Language": "zh-Hant"}, "", "zh-TW", "重新連線"),
        ({"Accept-Language": "zh-HK, zh-CN;q=0.5"}, "", "zh-TW", "重新連線"),
        ({"Accept-Language": "zh-Hans-TW"}, "", "zh-CN", "重新连接"),
        ({"Accept-Language": "de"}, "?lang=zh-tw", "zh-TW", "重新連線"),
        ({"Accept-Language": "pt-BR"}, "?lang=zh_CN", "zh-CN", "重新连接"),
        ({}, "?lang=../../etc", "en", None),
    ],
)
def test_page_catalog_follows_the_request(host, headers, query, lang, sample):
    response = host.get("i18n.json" + query, headers=headers)
    assert response.status_code == 200
    assert response.headers["Vary"] == "Accept-Language"
    assert response.headers["Content-Language"] == lang
    document = response.json()
    assert document["lang"] == lang
    if sample is None:
        assert document["messages"] == {}
    else:
        assert document["messages"]["Reconnect"] == sample
        # Only the pages' strings: the server's messages stay on the server.
        assert "Authentication required." not in document["messages"]


def test_rest_reason_follows_accept_language_with_region_fallback(host):
    response = host.get("vms/nope", headers={"Accept-Language": "de-AT"})
    assert response.json()["reason"] == "Gast nope existiert nicht."
    response = host.get("vms/nope", params={"lang": "pt-BR"})
    assert response.json()["reason"] == "O convidado nope não existe."


def policy(response: requests.Response) -> dict[str, list[str]]:
    """The page's Content-Security-Policy: directive -> its sources."""
    directives = response.headers["Content-Security-Policy"].split(";")
    return {name: rest for name, *rest in (d.split() for d in directives if d.strip())}


@pytest.mark.parametrize("host_header", [None, "localhost:8010"])
def test_console_page_may_connect_only_to_the_consoles_this_host_hands_out(host, host_header):
    """Not to any ws: or wss: URL: a page opened from a forged link can't reach another
    server (issue 13, item 5)."""
    headers = {"Host": host_header} if host_header else {}
    ws_port = host.ws_url.rstrip("/").rsplit(":", 1)[1]
    hostname = "localhost" if host_header else "127.0.0.1"
    response = host.get("console.html", headers=headers)
    assert response.status_code == 200
    assert policy(response)["connect-src"] == ["'self'", f"ws://{hostname}:{ws_port}/"]
    guest_list = host.get("", headers={"Accept": BROWSER_ACCEPT, **headers})
    assert policy(guest_list)["connect-src"] == ["'self'"]


def test_console_settings_give_the_start_of_every_handed_out_url(host):
    for host_header in ("127.0.0.1", "localhost:1234"):
        settings = host.get("console.json", headers={"Host": host_header})
        assert settings.status_code == 200
        assert settings.headers["Cache-Control"] == "no-store"
        prefix = settings.json()["ws_url_prefix"]
        opened = host.post("vms/mock-vm/serial", headers={"Host": host_header}).json()
        assert opened["ws_url"] == prefix + opened["token"]
        host.close_all()


def test_a_ui_without_xterm_is_named_at_start_and_the_page_still_served(start_host, tmp_path):
    ui_dir = ui_without_xterm(tmp_path / "ui")
    host = start_host("--config", str(config_file(tmp_path, "serialconsole", ui_dir=ui_dir)))
    log = wait_for(lambda: "not built" in host.log() and host.log(), 5.0, "the warning")
    assert f"the web UI in {ui_dir} is not built" in log
    assert "node_modules/@xterm/xterm/lib/xterm.js" in log
    assert "make ui" in log
    page = host.get("console.html")
    assert page.status_code == 200  # it says what is missing itself (tests/ui)
    assert host.get("ui/node_modules/@xterm/xterm/lib/xterm.js").status_code == 404


def test_a_ui_dir_without_pages_answers_how_to_build_it(start_host, tmp_path):
    empty = tmp_path / "ui"
    empty.mkdir()
    host = start_host("--config", str(config_file(tmp_path, "serialconsole", ui_dir=empty)))
    for path, headers in (
        ("console.html", {}),
        ("", {"Accept": BROWSER_ACCEPT}),
        ("console.html", {"Accept-Language": "de"}),
    ):
        response = host.get(path, headers=headers)
        assert response.status_code == 503, (path, response.text)
        error = response.json()
        assert error["code"] == "SCONS0024E"
        assert "make ui" in error["reason"]
    assert error["reason"].startswith("Die Weboberfläche ist auf diesem Host nicht gebaut")
    assert "is not built" in host.log()
