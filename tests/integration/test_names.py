"""Guest names are data, never paths or options: odd names work end to end or get a clear
4xx.

libvirt itself refuses ``/``, newlines and other control characters (except tab) in
names, so those can only reach us as lookups of guests that do not exist. Guests named
``.`` or ``..`` are reached by UUID: HTTP clients remove such path segments (RFC 3986)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import pytest

from .helpers import PROMPT, shared_host

ODD_NAMES = [
    "with space",
    'quo"te',
    "it's",
    "..",
    ".",
    "tab\there",
    "x" * 250,
    "<tag>&amp;",
    "%2F",
    "back\\slash",
    "dollar$(reboot)",
    "semi;colon",
    "ünïcödé 虚拟机",
    "serial",
    "GET",
    # Option-shaped names: the console process is told them as data, never as options.
    "--force",
    "--socket",
    "-h",
]


def domain(number: int, name: str) -> str:
    return (
        f"<domain type='test'><name>{escape(name)}</name>"
        f"<uuid>5ca1ab1e-0000-4000-8000-{number:012d}</uuid><memory>1024</memory>"
        "<os><type>hvm</type></os><devices><serial type='pty'><target port='0'/></serial>"
        "</devices></domain>"
    )


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    xml = tmp_path_factory.mktemp("names") / "odd-names.xml"
    guests = "".join(domain(n, name) for n, name in enumerate(ODD_NAMES))
    xml.write_text(f"<node>{guests}</node>")
    yield from shared_host(source=("--uri", f"test://{Path(xml).resolve()}"))


def test_every_odd_name_is_listed(host):
    assert sorted(g["name"] for g in host.get("vms").json()) == sorted(ODD_NAMES)


@pytest.mark.parametrize("name", ODD_NAMES, ids=lambda n: repr(n[:20]))
def test_odd_name_works_end_to_end(host, connect, name):
    uuid = {g["name"]: g["uuid"] for g in host.get("vms").json()}[name]
    ident = uuid if name in (".", "..") else name
    found = host.get(f"vms/{quote(ident, safe='')}")
    assert found.status_code == 200, found.text
    assert found.json()["name"] == name
    opened = host.open(ident)
    assert opened["page"].split("guest=")[1].startswith(quote(name, safe=""))
    assert all(re.fullmatch(r"[0-9a-f]{24}", p) for p in host.dir_entries()["consoles"])
    console = connect(opened["ws_url"])
    assert name.encode() in console.banner()
    console.send("echo ok\r")
    assert console.read_until(b"\r\n" + PROMPT).endswith(b"ok\r\n# ")
    console.close()
    assert host.close(ident).status_code in (204, 404)
    host.assert_idle()


@pytest.mark.parametrize(
    "path",
    [
        "vms/a%2Fb",
        "vms/..%2F..%2Fetc%2Fpasswd",
        "vms/%2E%2E%2F%2E%2E/serial",
        "vms/nl%0Ax",
        "vms/nul%00x",
        "vms/" + "y" * 5000,
        "vms/%FF%FE",
    ],
)
def test_impossible_names_are_clear_4xx(host, path):
    for method in ("GET", "POST"):
        suffix = "" if path.endswith("/serial") or method == "GET" else "/serial"
        response = host.request(method, path + suffix)
        assert response.status_code in (400, 404, 405), (method, path, response.text)
        assert response.json()["code"].startswith("SCONS")
