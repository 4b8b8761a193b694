"""Text from outside cannot forge log lines: every line the host and its processes write
is a record of their own, whatever guest names, paths and headers it carries.

The host runs as under systemd (stderr a journal stream, one ``<priority>`` per line), the
setting where a carriage return or U+2028 in a guest name used to split a record in two.
libvirt refuses newlines in guest names, so ``evil\\nSCONS forged`` can only arrive as a
lookup; carriage returns and U+2028 it accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import pytest

from .helpers import Host, expect_refused

FORGED = "SCONS forged"
GUESTS = [f"evil\r{FORGED}", f"evil\u2028{FORGED}"]
NOT_A_GUEST = f"evil\n{FORGED}"
REFUSED_ORIGIN = "http://x\\x1b[31m.example"  # as logged: the escape written out
# a record: <priority>tag LEVEL ...; a traceback's lines are indented
RECORD = re.compile(r"<[0-7]>(\S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) |  )")


def domain(number: int, name: str) -> str:
    return (
        f"<domain type='test'><name>{escape(name, {chr(13): '&#13;'})}</name>"
        f"<uuid>10c0ffee-0000-4000-8000-{number:012d}</uuid><memory>1024</memory>"
        "<os><type>hvm</type></os><devices><serial type='pty'><target port='0'/></serial>"
        "</devices></domain>"
    )


@pytest.fixture
def journal_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    """A host on guests with odd names whose stderr is, to it, the journal."""
    xml = tmp_path / "evil.xml"
    xml.write_text("<node>" + "".join(domain(n, g) for n, g in enumerate(GUESTS)) + "</node>")
    host = Host(source=("--uri", f"test://{xml}"))
    status = host.log_path.stat()
    monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
    try:
        yield host.start()
    finally:
        host.finish()


def test_guest_names_and_origin_headers_cannot_forge_log_lines(journal_host):
    host = journal_host
    for guest in GUESTS:
        host.open(guest)
        assert host.close(guest).status_code == 204
    missing = host.get(f"vms/{quote(NOT_A_GUEST, safe='')}/serial/transcript")
    assert missing.status_code == 404
    opened = host.open(GUESTS[0])
    expect_refused(opened["ws_url"], 403, origin="http://x\x1b[31m.example")
    host.close(GUESTS[0])
    host.assert_idle()
    host.wait_log(REFUSED_ORIGIN)  # websockify logs it after the client has its 403

    log = host.log_path.read_text()
    strays = [line for line in log.split("\n")[:-1] if not RECORD.match(line)]
    assert not strays, "lines that are no record of the host's own"
    assert "\x1b" not in log
    assert "evil\\rSCONS forged" in log and "evil\\u2028SCONS forged" in log
    assert REFUSED_ORIGIN in log
