"""Recordings (issue 18) on the mock model: a console session's stretch of the capture log
as an asciicast file, with what its writer typed where input is recorded; any time range
of the log exports the same way; only operators with the audit right read them."""

from __future__ import annotations

import json
import re

import pytest

from .helpers import (
    OPERATOR_PASSWORD,
    PROMPT,
    WaitTimeout,
    assert_final_line,
    wait_for,
    write_users_file,
)

FINAL_LINE = re.compile(rb"\r\n\[serialconsole\] [^\r\n]*\(SCONS\d{4}L\)\r\n$")
CAST = "application/x-asciicast"


def parse_cast(text: bytes) -> tuple[dict, list[list]]:
    header, *events = text.decode().splitlines()
    return json.loads(header), [json.loads(line) for line in events]


def joined(events: list[list], kind: str) -> str:
    return "".join(text for _, event_kind, text in events if event_kind == kind)


def fetch_cast(host, path: str, last: bytes, typed: str | None = None, **params: str):
    """The response for ``path`` once its output ends with ``last`` (and, with ``typed``,
    its input events hold that): the capture log is written a moment after the guest
    printed it, and a batch's input after its output, so the output that answered what
    was typed may be there a moment before the input."""
    seen: list[tuple[bytes, str]] = []

    def written():
        response = host.get(path, params=params or None)
        assert response.status_code == 200, response.text
        events = parse_cast(response.content)[1]
        output, keys = joined(events, "o").encode(), joined(events, "i")
        seen[:] = [(output[-80:], keys)]
        return response if output.endswith(last) and typed in (None, keys) else None

    what = f"{last!r} at the end of {path}" + (f" and input {typed!r}" if typed else "")
    try:
        return wait_for(written, 10.0, what)
    except WaitTimeout:
        raise WaitTimeout(
            f"timed out waiting for {what}; last (output end, input): {seen}"
        ) from None


@pytest.fixture
def capturing(start_host, tmp_path):
    def start(*options: str, auth: tuple[str, str] | None = None):
        host = start_host("--capture", "all", "--state-dir", str(tmp_path / "state"), *options)
        host.auth = auth
        wait_for(
            lambda: any(s["capture"] and s["guest"] == "mock-vm" for s in host.sessions()),
            10.0,
            "the capture of mock-vm",
        )
        return host

    return start


def a_session(host, connect, typed: dict[str, str]) -> tuple[dict, bytes, int]:
    """Open mock-vm, type each command of ``typed`` and read up to its answer and the
    prompt, leave with Ctrl+Q; (the recording as the list has it, what the writer
    received, replay bytes)."""
    opened = host.open()
    writer = connect(opened["ws_url"])
    received = writer.banner()
    for command, answer in typed.items():
        writer.send(command + "\r")
        received += writer.read_until(f"{command}\r\n{answer}\r\n".encode() + PROMPT)
    writer.send("\x11")
    rest = writer.read_until_close()
    assert_final_line(rest, "SCONS0102L")
    received += FINAL_LINE.sub(b"", rest)  # the console's own line: not the guest's output

    def ended() -> dict | None:
        listed = host.get("vms/mock-vm/recordings").json()
        return listed[0] if listed and listed[0]["end"] else None

    return wait_for(ended, 10.0, "the session's end in the list"), received, opened["replay_bytes"]


def test_a_sessions_recording_replays_exactly_what_its_writer_received(capturing, connect):
    host = capturing()
    listed, received, replay = a_session(
        host, connect, {"echo one": "one", "echo zwei-äöü": "zwei-äöü"}
    )
    assert listed["operator"] == "operator" and listed["mode"] == "write"
    assert listed["device"] == "serial0" and listed["complete"] is True
    assert listed["duration"] >= 0 and re.fullmatch(r"[0-9a-f]{16}", listed["session"])

    response = fetch_cast(host, f"vms/mock-vm/recordings/{listed['session']}", received[-40:])
    assert response.headers["Content-Type"] == CAST
    assert response.headers["Content-Disposition"].endswith('.cast"')
    header, events = parse_cast(response.content)
    assert header["version"] == 2 and (header["width"], header["height"]) == (80, 24)
    # Everything the writer got after the ring it was first sent, and nothing else:
    assert joined(events, "o").encode() == received[replay:]
    assert b"zwei-\xc3\xa4\xc3\xb6\xc3\xbc\r\n" in received[replay:]
    assert [e[0] for e in events] == sorted(e[0] for e in events)
    assert joined(events, "i") == ""  # record_input is off by default


def test_with_record_input_the_input_events_hold_what_was_typed(capturing, connect):
    host = capturing("--record-input", "yes")
    listed, received, _ = a_session(
        host,
        connect,
        {"echo secret-passw0rd": "secret-passw0rd", "uptime": "sh: uptime: not found"},
    )
    path = f"vms/mock-vm/recordings/{listed['session']}"
    typed = "echo secret-passw0rd\ruptime\r"  # Ctrl+Q never reached it
    response = fetch_cast(host, path, received[-40:], typed)
    _, events = parse_cast(response.content)
    assert joined(events, "i") == typed
    typed = [e for e in events if e[1] == "i"]
    assert typed[0][0] <= typed[1][0]

    # A later session's recording holds its own input only.
    second, received, replay = a_session(host, connect, {"echo two": "two"})
    assert second["session"] != listed["session"]
    second_path = f"vms/mock-vm/recordings/{second['session']}"
    response = fetch_cast(host, second_path, received[replay:], "echo two\r")
    assert joined(parse_cast(response.content)[1], "i") == "echo two\r"


def test_any_time_range_of_the_log_exports_as_asciicast(capturing, connect):
    host = capturing()
    listed, received, replay = a_session(host, connect, {"echo ranged": "ranged"})
    path = "vms/mock-vm/serial/log"
    response = fetch_cast(host, path, received[-20:], format="cast", since=listed["start"])
    assert response.headers["Content-Type"] == CAST
    assert response.headers["Transfer-Encoding"] == "chunked"  # streamed as it is read
    header, events = parse_cast(response.content)
    assert joined(events, "o").encode().startswith(received[replay:])
    whole = parse_cast(host.get("vms/mock-vm/serial/log", params={"format": "cast"}).content)
    assert "Simulated serial console of guest mock-vm" in joined(whole[1], "o")
    bad = host.get("vms/mock-vm/serial/log", params={"format": "json"})
    assert (bad.status_code, bad.json()["code"]) == (400, "SCONS0007E")


def test_an_unknown_recording_is_404_with_a_code(capturing):
    host = capturing()
    for session in ("0123456789abcdef", "not-hex", "x" * 200):
        response = host.get(f"vms/mock-vm/recordings/{session}")
        assert (response.status_code, response.json()["code"]) == (404, "SCONS0030E")
    assert host.get("vms/mock-vm/recordings").json() == []


RULES = """\
# who     guests    rights
alice     mock-*    view console
auditor   mock-vm   view audit
"""


def test_recordings_need_the_audit_right(capturing, connect, tmp_path):
    users, rules = tmp_path / "users", tmp_path / "rights"
    write_users_file(users, "alice", "auditor")
    rules.write_text(RULES)
    alice, auditor = ("alice", OPERATOR_PASSWORD), ("auditor", OPERATOR_PASSWORD)
    options = ("--auth", "users", "--users-file", str(users), "--rights-file", str(rules))
    host = capturing(*options, auth=alice)
    writer = connect(host.open()["ws_url"])
    writer.banner()
    writer.send("\x11")
    writer.read_until_close()

    def ended() -> list | None:
        listed = host.get("vms/mock-vm/recordings", auth=auditor).json()
        return listed if listed and listed[0]["end"] else None

    (listed,) = wait_for(ended, 10.0, "alice's session in the auditor's list")
    assert listed["operator"] == "alice"
    session = listed["session"]
    for path in ("vms/mock-vm/recordings", f"vms/mock-vm/recordings/{session}"):
        refused = host.get(path, auth=alice)  # may write to the console, not audit it
        assert (refused.status_code, refused.json()["code"]) == (403, "SCONS0055E")
    assert host.get(f"vms/mock-vm/recordings/{session}", auth=auditor).status_code == 200
    hidden = host.get("vms/mock-dual/recordings", auth=auditor)  # not even viewable
    assert (hidden.status_code, hidden.json()["code"]) == (404, "SCONS0001E")


def test_playing_a_recording_and_exporting_the_log_are_audited(capturing, connect, tmp_path):
    """A recording (typed passwords too, with record_input) and the log as asciicast were
    downloaded with no trace in the audit trail, unlike the plain log."""
    host = capturing()
    listed, received, _ = a_session(host, connect, {"echo audited": "audited"})
    fetch_cast(host, f"vms/mock-vm/recordings/{listed['session']}", received[-20:])
    fetch_cast(host, "vms/mock-vm/serial/log", received[-20:], format="cast")
    trail = tmp_path / "state" / "audit.log"  # in the state dir the host was given
    downloads = [
        event
        for event in map(json.loads, trail.read_text().splitlines())
        if event["event"] == "download"
    ]
    assert {(e["what"], e.get("recording")) for e in downloads} == {
        ("recording", listed["session"]),
        ("log", None),
    }
    assert all(e["operator"] == "operator" and e["guest"] == "mock-vm" for e in downloads)
