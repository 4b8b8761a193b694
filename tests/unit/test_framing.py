"""What the connection gate makes of a request's first bytes (host.framing), and the
plugin's own Content-Length check for servers without the gate (control.http)."""

from __future__ import annotations

import pytest

from plugin_serialconsole.control import http
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.host.framing import SizeLimits, Stage, content_length, examine

LIMITS = SizeLimits(head=1024, body=100)
GET = b"GET /vms HTTP/1.1\r\nHost: h\r\n\r\n"


def post(*headers: bytes, body: bytes = b"") -> bytes:
    return (
        b"POST /x HTTP/1.1\r\nHost: h\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body
    )


@pytest.mark.parametrize(
    ("data", "stage"),
    [
        (b"", Stage.HEAD),
        (b"G", Stage.HEAD),
        (GET[:-2], Stage.HEAD),
        (GET, Stage.COMPLETE),
        (b"\r\n" + GET, Stage.COMPLETE),  # an empty line before a request is ignored
        (b"\r\n\r\n", Stage.HEAD),
        (GET + b"GET /next", Stage.COMPLETE),  # a pipelined next request is its own
        (post(b"Content-Length: 5", body=b"{}"), Stage.BODY),
        (post(b"Content-Length: 5", body=b"{   }"), Stage.COMPLETE),
        (post(b"content-length:  5 ", body=b"{   }"), Stage.COMPLETE),
        (post(b"Content-Length: 0"), Stage.COMPLETE),
        (post(b"Transfer-Encoding: chunked", body=b"2\r\n{}\r\n"), Stage.BODY),
        (post(b"Transfer-Encoding: chunked", body=b"2\r\n{}\r\n0\r\n"), Stage.BODY),
        (post(b"Transfer-Encoding: chunked", body=b"2\r\n{}\r\n0\r\n\r\n"), Stage.COMPLETE),
        (
            post(b"Transfer-Encoding: chunked", body=b"2;x=y\r\n{}\r\n0\r\nT: 1\r\n\r\n"),
            Stage.COMPLETE,
        ),
        (post(b"Transfer-Encoding: Chunked", body=b"0\r\n\r\n"), Stage.COMPLETE),
    ],
)
def test_stages(data, stage):
    assert examine(data, LIMITS).stage is stage


def test_a_client_that_expects_100_continue_is_told_to_go_on():
    head = post(b"Content-Length: 5", b"Expect: 100-continue")
    assert examine(head, LIMITS).awaits_continue
    assert not examine(head + b"{", LIMITS).awaits_continue  # it went on by itself
    assert not examine(post(b"Content-Length: 5"), LIMITS).awaits_continue


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"GET /" + b"x" * 1100, 431, "SCONS0041E"),
        (b"GET /" + b"x" * 1100 + b" HTTP/1.1\r\n\r\n", 431, "SCONS0041E"),
        (post(b"Content-Length: 101"), 413, "SCONS0015E"),
        (post(b"Transfer-Encoding: chunked", body=b"65\r\n"), 413, "SCONS0015E"),
        (post(b"Transfer-Encoding: chunked", body=b"1\r\nx\r\n" * 300), 413, "SCONS0015E"),
        (post(b"Content-Length: -1"), 400, "SCONS0043E"),
        (post(b"Content-Length: +5"), 400, "SCONS0043E"),
        (post(b"Content-Length: 0x10"), 400, "SCONS0043E"),
        (post(b"Content-Length: 1_0"), 400, "SCONS0043E"),
        (post(b"Content-Length: 5 5"), 400, "SCONS0043E"),
        (post(b"Content-Length:"), 400, "SCONS0043E"),
        (post(b"Content-Length: 5", b"Content-Length: 5"), 400, "SCONS0043E"),
        (post(b"Content-Length: 5", b"Transfer-Encoding: chunked"), 400, "SCONS0043E"),
        (post(b"Transfer-Encoding: gzip, chunked"), 400, "SCONS0043E"),
        (post(b"Transfer-Encoding: chunked", body=b"zz\r\n"), 400, "SCONS0043E"),
        (post(b"Transfer-Encoding: chunked", body=b"1\r\nxyz\r\n"), 400, "SCONS0043E"),
        (post(b"Transfer-Encoding: chunked", body=b"1" * 2000), 400, "SCONS0043E"),
    ],
)
def test_refusals(data, status, code):
    verdict = examine(data, LIMITS)
    assert (verdict.stage, verdict.status, verdict.code) == (Stage.REFUSED, status, code)


@pytest.mark.parametrize(("value", "length"), [(b"0", 0), (b" 17\t", 17), (b"000123", 123)])
def test_content_length_values(value, length):
    assert content_length(value) == length


@pytest.mark.parametrize("value", ["-1", "+5", "0x10", "1_0", "٥", "", "5 5"])
def test_the_plugin_refuses_odd_content_lengths_itself(value):
    """Under another server (Wok's cheroot lets int() read -1 and +5) the plugin checks."""
    with pytest.raises(SerialConsoleError) as refused:
        http._content_length(value)
    assert (refused.value.status, refused.value.code) == (400, "SCONS0043E")
    assert http._content_length(" 5 ") == 5
    assert http._content_length(None) == 0
