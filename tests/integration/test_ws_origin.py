"""A WebSocket refused for its Origin is answered as every refusal of the proxy is: 403
with a message code and a reason in the client's language, and a log line that says why
with the code, the Origin (client text) escaped and cut."""

from __future__ import annotations

from .helpers import expect_refused

ORIGIN_REFUSED = "SCONS0025E"
GERMAN_REASON = (
    "Seiten dieser Herkunft (Origin) dürfen hier keine Konsolen öffnen. "
    "Öffnen Sie die Konsole über die Webseite dieses Hosts."
)


def test_a_foreign_origin_is_answered_with_a_code_in_the_clients_language(host):
    opened = host.open("mock-vm")
    answer = expect_refused(
        opened["ws_url"], 403, origin="http://evil.example", header=["Accept-Language: de"]
    )
    assert answer == {"code": ORIGIN_REFUSED, "reason": GERMAN_REASON}
    assert host.close("mock-vm").status_code == 204


def test_a_foreign_origin_is_logged_with_its_code_escaped_and_cut(host):
    opened = host.open("mock-vm")
    hostile = "http://x\x1b[31m.example"
    expect_refused(opened["ws_url"], 403, origin=hostile)
    long_origin = "http://" + "a" * 10_000 + ".example"
    expect_refused(opened["ws_url"], 403, origin=long_origin)
    assert host.close("mock-vm").status_code == 204

    log = host.wait_log(f"{ORIGIN_REFUSED} Origin 'http://aaa")
    (hostile_line,) = [line for line in log.splitlines() if "Origin 'http://x" in line]
    (long_line,) = [line for line in log.splitlines() if "Origin 'http://aaa" in line]
    assert f"refused: {ORIGIN_REFUSED} Origin 'http://x\\x1b[31m.example'" in hostile_line
    assert "\x1b" not in log
    assert "a" * 200 not in long_line, "a whole Origin of 10 000 characters in the log"
