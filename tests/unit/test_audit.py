"""The audit trail: its file (append, rotation, reading back), its events, the journal."""

from __future__ import annotations

import configparser
import io
import json
import socket
import struct
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from plugin_serialconsole import audit, auditfile, auditlimit, i18n, journal
from plugin_serialconsole.audit import AuditTrail, login_id, make_audit_trail
from plugin_serialconsole.auditfile import KEEP, AuditFile
from plugin_serialconsole.auditlimit import NoiseLimit
from plugin_serialconsole.control.rest import ApiSettings, RestApi
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity, PluginInfo
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.settings import AuditSettings, Settings

GUEST = Guest(
    "web-1", "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001", "running", (ConsoleDevice("serial0", "pty"),)
)


def test_a_file_rotates_past_its_size_keeping_a_bounded_number_of_old_files(tmp_path):
    path = tmp_path / "audit.log"
    file = AuditFile(path, 4096).open()
    for number in range(2000):
        file.append({"event": "send", "n": number})
    file.close()
    files = [path, *file.old_files()]
    assert all(p.exists() for p in files) and not path.with_name("audit.log.6").exists()
    assert all(p.stat().st_size <= 4096 and p.stat().st_mode & 0o777 == 0o600 for p in files)
    numbers = [event["n"] for event in file.read(lambda event: True, 100_000)]
    assert numbers == list(range(numbers[0], 2000)), "newest last, nothing lost between files"
    assert numbers[0] > 0, "the oldest file went"
    assert len(files) == KEEP + 1


def test_reading_keeps_only_the_newest_matching_events(tmp_path):
    file = AuditFile(tmp_path / "audit.log", 4096).open()
    for number in range(500):
        file.append({"event": "send", "n": number})
    even = file.read(lambda event: event["n"] % 2 == 0, 3)
    assert [event["n"] for event in even] == [494, 496, 498]


def test_a_line_too_long_or_cut_short_is_skipped_when_read(tmp_path):
    path = tmp_path / "audit.log"
    file = AuditFile(path, 1024 * 1024).open()
    file.append({"n": 1})
    with open(path, "ab") as raw:
        raw.write(b'{"n": "' + b"x" * (auditfile.MAX_LINE * 3) + b'"}\n{"n": 2, "cut')
        raw.write(b"\n")
    file.append({"n": 3})
    assert [event["n"] for event in file.read(lambda event: True, 10)] == [1, 3]


def test_text_a_guest_or_client_chose_stays_one_escaped_line():
    hostile = 'evil\n{"event":"login"}\x1b[2J\u2028\r'
    line = auditfile.encode({"event": "opened", "guest": hostile})
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert all(32 <= byte < 127 for byte in line[:-1]), "no control or non-ASCII byte"
    assert json.loads(line)["guest"] == hostile


def test_lines_from_many_threads_never_interleave(tmp_path):
    file = AuditFile(tmp_path / "audit.log", 1024 * 1024).open()

    def write(name: str) -> None:
        for number in range(200):
            file.append({"event": "send", "thread": name, "n": number, "pad": "x" * 500})

    threads = [threading.Thread(target=write, args=(str(n),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = file.read(lambda event: True, 10_000)
    assert len(events) == 800
    for name in "0123":
        assert [e["n"] for e in events if e["thread"] == name] == list(range(200))


def test_a_link_in_place_of_the_file_is_refused_at_start(tmp_path):
    (tmp_path / "elsewhere").write_text("")
    (tmp_path / "audit.log").symlink_to(tmp_path / "elsewhere")
    settings = AuditSettings(tmp_path / "audit.log", 4096, "no")
    with pytest.raises(ValueError, match="audit_log"):
        make_audit_trail(settings, tmp_path / "state")


def test_the_default_file_is_in_a_private_state_dir(tmp_path):
    state = tmp_path / "state"
    trail = make_audit_trail(AuditSettings(state / "audit.log", 4096, "no"), state)
    trail.record(audit.START)
    trail.close()
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "audit.log").stat().st_mode & 0o777 == 0o600


def trail_in(tmp_path: Path) -> AuditTrail:
    times = iter(f"2026-01-01T00:00:{n:02d}.000Z" for n in range(60))
    return AuditTrail(
        AuditFile(tmp_path / "audit.log", 1024 * 1024).open(), clock=lambda: next(times)
    )


def written(trail: AuditTrail) -> list[dict]:
    return trail.read(lambda event: True, 1000)


def test_a_console_session_ends_once_and_names_who_took_it_over(tmp_path):
    trail = trail_in(tmp_path)
    alice = Identity("alice", session_cookie="c", session_digest="ab" * 32)
    trail.opened("s1", GUEST, "serial0", "write", alice)
    trail.connected("s1")
    assert trail.displacing("s1", "bob") == "alice"
    trail.ended("s1", "taken-over")
    trail.ended("s1", "client-closed")  # reported later by the console process: ignored
    trail.connected("s1")
    trail.took_over("s2", "s1", "alice")  # s2 was not opened through this trail: nothing
    events = written(trail)
    assert [e["event"] for e in events] == ["opened", "connected", "left", "ended"]
    assert events[2]["reason"] == events[3]["reason"] == "taken-over"
    assert events[3]["by"] == "bob" and "by" not in events[2]
    for event in events:
        assert list(event)[: len(audit.FIELDS)] == list(audit.FIELDS)
        assert event["login"] == login_id("ab" * 32) and "ab" * 32 not in json.dumps(event)
        assert (event["guest"], event["uuid"], event["device"]) == (
            GUEST.name,
            GUEST.uuid,
            "serial0",
        )
        assert event["client"] is None  # outside a request
    assert [e["time"] for e in events] == [f"2026-01-01T00:00:0{n}.000Z" for n in range(4)]


def test_a_login_id_is_short_and_tells_nothing_of_the_cookie():
    digest = "0123456789abcdef" * 4
    assert len(login_id(digest)) == 16 and login_id(digest) not in digest
    assert login_id(None) is None


def settings_of(**values: str) -> Settings:
    config = configparser.ConfigParser()
    config["serialconsole"] = {"state_dir": "/var/lib/sc", **values}
    return Settings.from_config(config)


def test_audit_settings_default_to_the_state_dir_and_no_turns_the_file_off():
    assert settings_of().audit == AuditSettings(Path("/var/lib/sc/audit.log"), 10485760, "auto")
    assert settings_of(audit_log="no").audit.path is None
    assert settings_of(audit_log="/srv/a.log", audit_journal="YES").audit.journal == "yes"


@pytest.mark.parametrize(
    "values",
    [
        {"audit_log": "relative.log"},
        {"audit_log_size": "100"},
        {"audit_log_size": "1.5e9"},
        {"audit_journal": "maybe"},
    ],
)
def test_bad_audit_settings_are_refused(values):
    with pytest.raises(ValueError, match=next(iter(values))):
        settings_of(**values)


def test_journal_entries_use_the_native_protocol_with_structured_fields(tmp_path):
    path = tmp_path / "journal.socket"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.settimeout(5)
    trail = AuditTrail(journal=journal.Journal(path))
    trail.record(audit.DENIED, operator="mallory", guest="two\nlines", status=403)
    fields = journal_entry(receiver.recv(65536))
    receiver.close()
    trail.close()
    assert fields["SERIALCONSOLE_EVENT"] == "denied"
    assert fields["SERIALCONSOLE_OPERATOR"] == "mallory"
    assert fields["SERIALCONSOLE_GUEST"] == "two\nlines"
    assert fields["SERIALCONSOLE_STATUS"] == "403"
    assert fields["PRIORITY"] == "4" and fields["SYSLOG_IDENTIFIER"] == "serialconsole"
    assert "SERIALCONSOLE_SESSION" not in fields  # null fields are left out


def test_the_journal_is_used_under_systemd_only_when_asked_or_automatic(tmp_path):
    path = tmp_path / "journal.socket"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as bound:
        bound.bind(str(path))
        assert journal.wanted("auto", {"JOURNAL_STREAM": "8:123"}, path)
        assert not journal.wanted("auto", {}, path)
        assert not journal.wanted("auto", {"JOURNAL_STREAM": "8:123"}, tmp_path / "none")
        assert journal.wanted("yes", {}, tmp_path / "none")
        assert not journal.wanted("no", {"JOURNAL_STREAM": "8:123"}, path)


def test_a_journal_that_is_gone_does_not_fail_an_event(tmp_path, caplog):
    trail = AuditTrail(journal=journal.Journal(tmp_path / "gone.socket"))
    trail.record(audit.START)
    trail.record(audit.START)
    assert len([r for r in caplog.records if "cannot send" in r.getMessage()]) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refusals_past_a_clients_share_are_counted_and_the_count_written_later(tmp_path):
    clock = Clock()
    noise = NoiseLimit(per_client=3, overall=5, window=60.0, clock=clock)
    trail = AuditTrail(AuditFile(tmp_path / "audit.log", 1024 * 1024).open(), noise=noise)
    for _ in range(10):
        trail.record(audit.DENIED, client="192.0.2.1", status=401)
    for _ in range(4):
        trail.record(audit.LOGIN_FAILED, client="192.0.2.2", operator="root")
    trail.record(audit.LOGIN, client="192.0.2.1", operator="alice")  # never held back
    clock.now += 60
    trail.record(audit.DENIED, client="192.0.2.1", status=401)
    trail.record(audit.DENIED, client="192.0.2.3", status=401)
    trail.close()
    events = [(e["event"], e["client"], e.get("count")) for e in written(trail)]
    assert events == [
        *[("denied", "192.0.2.1", None)] * 3,
        *[("login-failed", "192.0.2.2", None)] * 2,  # all clients' share is 5
        ("login", "192.0.2.1", None),
        ("suppressed", None, 2),  # past the shared share, when its window was over
        ("suppressed", "192.0.2.1", 7),
        ("denied", "192.0.2.1", None),
        ("denied", "192.0.2.3", None),
    ]


def test_the_number_of_clients_counted_is_capped(monkeypatch):
    monkeypatch.setattr(auditlimit, "MAX_WINDOWS", 100)
    noise = NoiseLimit(per_client=1, overall=10**9, clock=Clock())
    held = []
    for number in range(1000):
        for _ in range(2):
            held += noise.admit(f"10.0.{number // 256}.{number % 256}")[1]
    assert len(noise._windows) == 100
    assert sum(s.count for s in held + noise.flush()) == 1000, "no count lost"


def test_a_write_does_not_wait_for_a_reading_of_the_trail(tmp_path):
    file = AuditFile(tmp_path / "audit.log", 4096).open()
    for number in range(100):
        file.append({"n": number})
    reading, release, appended = threading.Event(), threading.Event(), threading.Event()

    def slow_match(event: dict) -> bool:
        reading.set()
        return release.wait(10)

    reader = threading.Thread(target=file.read, args=(slow_match, 10))
    reader.start()
    try:
        assert reading.wait(10)
        writer = threading.Thread(target=lambda: (file.append({"n": "new"}), appended.set()))
        writer.start()
        assert appended.wait(10), "the append waited for the reading"
        assert reader.is_alive(), "answered while the reading still went on"
    finally:
        release.set()
        reader.join(10)
    writer.join(10)
    assert file.read(lambda event: True, 1) == [{"n": "new"}]


def test_events_are_stamped_in_the_order_they_are_written(tmp_path):
    """A thread stamped, then held up before its append, must not write a time older
    than a line another thread wrote meanwhile."""
    stamping, other_written = threading.Event(), threading.Event()
    times = iter(["2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"])

    def clock() -> str:
        stamp = next(times)
        if threading.current_thread().name == "first":
            stamping.set()
            other_written.wait(1.0)  # held up; the other writer gets in, if it can
        return stamp

    trail = AuditTrail(AuditFile(tmp_path / "audit.log", 1 << 20).open(), clock=clock)
    first = threading.Thread(target=trail.record, args=(audit.START,), name="first")
    first.start()
    assert stamping.wait(10)
    second = threading.Thread(
        target=lambda: (trail.record(audit.SEND), other_written.set()), name="second"
    )
    second.start()
    first.join(10)
    second.join(10)
    stamps = [event["time"] for event in written(trail)]
    assert len(stamps) == 2 and stamps == sorted(stamps)


def test_a_reading_from_a_time_on_stops_with_the_file_of_the_first_older_event(tmp_path):
    times = iter(f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z" for n in range(3600))
    trail = AuditTrail(AuditFile(tmp_path / "audit.log", 4096).open(), clock=lambda: next(times))
    for _ in range(100):
        trail.record(audit.SEND, guest="web-1")
    newest = written(trail)[-1]["time"]
    looked_at = []

    def matches(event: dict) -> bool:
        looked_at.append(event)
        return event["time"] >= newest

    assert [e["time"] for e in trail.read(matches, 10, since=newest)] == [newest]
    assert [e["time"] for e in looked_at] == [newest], "no older event was looked at"


def test_a_reading_from_a_time_on_keeps_what_came_before_a_clock_step_back(tmp_path):
    """The clock stepped back five minutes (NTP): the reading stopped at the first event
    after the step, older than ``since``, and lost the ones in range written before it."""
    times = iter(
        ["2026-01-01T10:00:00.000Z", "2026-01-01T10:01:00.000Z", "2026-01-01T09:57:00.000Z"]
    )
    trail = AuditTrail(AuditFile(tmp_path / "audit.log", 1 << 20).open(), clock=lambda: next(times))
    for guest in ("before-1", "before-2", "after-step"):
        trail.record(audit.SEND, guest=guest)
    found = trail.read(lambda event: True, 10, since="2026-01-01T09:59:00.000Z")
    assert [event["guest"] for event in found] == ["before-1", "before-2"]


def file_trail(tmp_path: Path, **options) -> AuditTrail:
    return AuditTrail(AuditFile(tmp_path / "audit.log", 1 << 20).open(), **options)


def test_a_clients_long_text_is_cut_so_its_line_is_still_read(tmp_path):
    """``GET /`` + ``%01``×10886: each control character escapes to six bytes, a 65 KB
    line the reader skipped."""
    trail = file_trail(tmp_path)
    trail.record(audit.DENIED, client="192.0.2.9", method="GET", path="/\x01" * 5443)
    trail.record(audit.LOGIN_FAILED, client="192.0.2.9", operator="\U0001f600" * 5000)
    lines = (tmp_path / "audit.log").read_bytes().splitlines()
    assert all(len(line) < 8192 for line in lines)
    denied, failed = written(trail)
    assert denied["path"] == ("/\x01" * 5443)[: audit.MAX_TEXT]
    assert denied["truncated"] == ["path"] and denied["method"] == "GET"
    assert failed["operator"] == "\U0001f600" * audit.MAX_TEXT
    assert failed["truncated"] == ["operator"]


def test_a_file_ending_in_a_line_too_long_to_read_is_still_read_from_a_time_on(tmp_path):
    path = tmp_path / "audit.log"
    file = AuditFile(path, 1 << 20).open()
    file.append({"time": "2026-01-01T00:00:05.000Z", "n": 1})
    with open(path, "ab") as raw:  # written by an older version
        raw.write(b'{"time":"2026-01-01T00:00:06.000Z","p":"' + b"x" * auditfile.MAX_LINE + b'"}\n')
    found = file.read(lambda event: True, 10, since="2026-01-01T00:00:01.000Z")
    assert [event["n"] for event in found] == [1]


def test_a_clients_refusals_are_held_back_by_their_bytes_too(tmp_path):
    """Thirty refusals a minute of a few KiB each would still flush the kept files."""
    trail = file_trail(tmp_path, noise=NoiseLimit(clock=Clock()))
    for _ in range(auditlimit.PER_CLIENT):
        trail.record(audit.DENIED, client="192.0.2.9", path="\U0001f600" * 5000)
    denied = [event for event in written(trail) if event["event"] == "denied"]
    assert 0 < len(denied) < auditlimit.PER_CLIENT
    size = (tmp_path / "audit.log").stat().st_size
    assert size <= auditlimit.PER_CLIENT * auditlimit.BYTES_PER_EVENT


def journal_entry(data: bytes) -> dict[str, str]:
    fields, rest = {}, data
    while rest:
        name, _, rest = rest.partition(b"\n")
        if b"=" in name:
            key, _, value = name.partition(b"=")
            fields[key.decode()] = value.decode()
            continue
        (size,) = struct.unpack("<Q", rest[:8])
        fields[name.decode()] = rest[8 : 8 + size].decode()
        rest = rest[8 + size + 1 :]
    return fields


def test_a_journal_message_cannot_be_given_a_forged_line(tmp_path):
    path = tmp_path / "journal.socket"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(5)
        trail = AuditTrail(journal=journal.Journal(path))
        forged = "root\naudit: login operator=root client=10.0.0.1\x1b[2J"
        trail.record(audit.LOGIN_FAILED, operator=forged, path="/" + "a" * 1000)
        fields = journal_entry(receiver.recv(1 << 20))
        trail.close()
    message = fields["MESSAGE"]
    assert "\n" not in message and "\x1b" not in message
    assert "operator=root\\naudit: login" in message and "\\x1b[2J" in message
    assert fields["SERIALCONSOLE_PATH"] == "/" + "a" * (audit.MAX_TEXT - 1)


@pytest.fixture
def stalled_journal(tmp_path):
    """A journal socket whose queue is full: nothing reads it."""
    path = tmp_path / "journal.socket"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as filler:
        filler.setblocking(False)
        with pytest.raises(BlockingIOError):
            for _ in range(100_000):
                filler.sendto(b"MESSAGE=filler\n", str(path))
    yield path
    receiver.close()  # a sender still waiting is refused


def test_a_stalled_journal_holds_up_no_event(stalled_journal, tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "SEND_TIMEOUT", 60.0, raising=False)  # how long it waited
    trail = file_trail(tmp_path, journal=journal.Journal(stalled_journal))
    threads = [
        threading.Thread(target=trail.record, args=(audit.DENIED,), kwargs={"client": str(n)})
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads), "an event waited for the journal"
    assert len(written(trail)) == 4
    assert trail.journal.dropped == 4


def test_after_a_failed_send_the_journal_is_left_alone_for_a_while(tmp_path, caplog):
    path = tmp_path / "journal.socket"
    clock = Clock()
    sender = journal.Journal(path, clock=clock)
    sender.send({"MESSAGE": "lost"})  # nobody listens yet
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(5)
        sender.send({"MESSAGE": "backing off"})
        clock.now += journal.BACKOFF
        sender.send({"MESSAGE": "again"})
        assert receiver.recv(4096) == b"MESSAGE=again\n"
    sender.close()
    assert sender.dropped == 2
    assert [r.getMessage().endswith("2 entries dropped") for r in caplog.records] == [
        False,
        True,
    ]


def test_a_session_is_connected_before_it_ends_whichever_thread_reports(tmp_path):
    """``connected`` marked its session, then was held up before writing: an ``ended``
    from another thread must not get in first."""
    writing, ended = threading.Event(), threading.Event()

    class HeldUp(AuditTrail):
        def record(self, event: str, **fields) -> None:
            if event == audit.CONNECTED:
                writing.set()
                ended.wait(1.0)  # held up; the session's end gets in, if it can
            super().record(event, **fields)

    trail = HeldUp(AuditFile(tmp_path / "audit.log", 1 << 20).open())
    trail.opened("s1", GUEST, "serial0", "write", None)
    connect = threading.Thread(target=trail.connected, args=("s1",))
    connect.start()
    assert writing.wait(10)
    end = threading.Thread(target=lambda: (trail.ended("s1", "ctrl-q"), ended.set()))
    end.start()
    connect.join(10)
    end.join(10)
    assert [e["event"] for e in written(trail)] == ["opened", "connected", "left", "ended"]


def test_reading_the_newest_events_looks_at_no_more_than_it_answers(tmp_path):
    file = AuditFile(tmp_path / "audit.log", 4096).open()
    for number in range(2000):
        file.append({"event": "send", "n": number})
    looked_at = []

    def matches(event: dict) -> bool:
        looked_at.append(event["n"])
        return True

    newest = file.read(matches, 10)
    assert [event["n"] for event in newest] == list(range(1990, 2000))
    assert looked_at == list(range(1999, 1989, -1)), "newest first, and no further"
    in_current_file = len((tmp_path / "audit.log").read_text().splitlines())
    assert [event["n"] for event in file.read(lambda e: True, 100_000)][-1] == 1999
    spanning = file.read(lambda event: True, in_current_file + 5)
    assert [e["n"] for e in spanning] == list(range(2000 - in_current_file - 5, 2000))


class TimedOutSender:
    def send(self, guest, request, identity):
        raise SerialConsoleError(i18n.SEND_TIMEOUT, 504, seconds="10", sent="NMI", guest=guest.name)


class OneGuest:
    def candidates(self, ident, hypervisor):
        return [GUEST]

    def one_of(self, ident, guests):
        return guests[0]

    def fresh(self, guest):
        return guest

    def current(self, guest):
        return guest


class NoWriter:
    def writer_session(self, guest, alias, identity):
        return None


def test_a_send_that_timed_out_is_audited_as_perhaps_delivered(tmp_path):
    """No answer in time (504) does not mean the NMI did not reach the guest."""
    import cherrypy
    from cherrypy._cprequest import Request, Response
    from cherrypy.lib.httputil import Host

    trail = file_trail(tmp_path)
    info = PluginInfo("serialconsole", "1", "/plugins/serialconsole", "serialconsole")
    settings = ApiSettings(info, "127.0.0.1", lambda: 64667, 30.0)
    api = RestApi(settings, OneGuest(), NoWriter(), lambda: None, TimedOutSender(), trail=trail)
    body = b'{"action": "nmi"}'
    request = Request(Host("127.0.0.1", 8001), Host("192.0.2.7", 40000))
    request.method = "POST"
    request.headers = {"Content-Length": str(len(body)), "Content-Type": "application/json"}
    request.body = SimpleNamespace(fp=io.BytesIO(body))
    request.identity = Identity("alice")
    cherrypy.serving.load(request, Response())
    try:
        with pytest.raises(SerialConsoleError) as refused:
            api.sends.send(GUEST.name)
    finally:
        cherrypy.serving.clear()
    assert refused.value.status == 504
    (sent,) = written(trail)
    assert (sent["event"], sent["action"], sent["operator"]) == ("send", "nmi", "alice")
    assert (sent["sent"], sent["status"], sent["code"]) == (False, 504, i18n.SEND_TIMEOUT)
    assert (sent["client"], sent["device"]) == ("192.0.2.7", "serial0")
