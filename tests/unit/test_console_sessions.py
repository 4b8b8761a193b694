"""SessionManager's paths through ``open``: start, join (viewer, reattach), take over, wait
for a starting process, and start afresh when the process ends under an invitation.

The console processes are fakes (``FakeConsole``) that speak the console pipe's protocol
as a script says (and record the ``drop`` lines they get), so each path is driven
deterministically; the manager, its watcher threads, ``ConsoleProcess`` and the token
store are the real ones. Logins that end (``end_login``) release their claims.
"""

from __future__ import annotations

import configparser
import itertools
import os
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from plugin_serialconsole.audit import AuditTrail
from plugin_serialconsole.auditfile import AuditFile
from plugin_serialconsole.bridge.tokens import TokenStore
from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.spec import ConsoleSpec, SpecError
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.model import console_sessions, session_processes
from plugin_serialconsole.model.console_session import CONNECTED, DETACHED, WAITING
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.model.recording_index import RecordingIndex
from plugin_serialconsole.settings import Settings

TIMEOUT = 5.0
GUEST = Guest(
    "vm", "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001", "running", (ConsoleDevice("serial0", "pty"),)
)
_PIDS = itertools.count(900001)


class FakeConsole:
    """A ``ChildHandle`` that answers like a console process: ready at once, then
    ``invited`` (or ``refused``, or its end, as ``on_invite`` says) to each invitation;
    ``stop`` and end of file on its stdin end it."""

    def __init__(self, spec: ConsoleSpec, on_invite: str = "invited") -> None:
        self.spec = spec
        self.on_invite = on_invite
        self.pid = next(_PIDS)
        read_out, write_out = os.pipe()
        read_in, write_in = os.pipe()
        self.stdout = open(read_out, "rb")  # noqa: SIM115 (closed by ConsoleProcess)
        self.stdin = open(write_in, "wb")  # noqa: SIM115
        self._out = open(write_out, "wb", buffering=0)  # noqa: SIM115 (closed by end)
        self._in = open(read_in, "rb")  # noqa: SIM115 (closed by its reader)
        self._lock = threading.Lock()
        self.exited = threading.Event()
        self.invites: list[dict] = []
        self.drops: list[tuple[str, str]] = []
        self.heard: list[str] = []  # the events of the host's lines, in order
        self.stops: list[str] = []
        self.report(protocol.READY, socket=spec.socket_path.name, replay=0)
        threading.Thread(target=self._obey, daemon=True).start()

    def report(self, event: str, **fields: object) -> None:
        with self._lock:
            if not self._out.closed:
                self._out.write(protocol.encode(event, **fields))

    def _obey(self) -> None:
        with self._in:
            for line in self._in:
                message = protocol.decode(line)
                self.heard.append(message.get("event"))
                if message.get("event") == protocol.STOP:
                    self.stops.append(message["reason"])
                    self.end(Reason(message["reason"]), **message.get("params", {}))
                elif message.get("event") == protocol.INVITE:
                    self.invites.append(message)
                    self._answer(message["socket"])
                elif message.get("event") == protocol.DROP:
                    self.drops.append((message["socket"], message["reason"]))
        self.end(Reason.HOST_STOPPING)

    def _answer(self, socket: str) -> None:
        if self.on_invite == "invited":
            self.report(protocol.INVITED, socket=socket, replay=0)
        elif self.on_invite == "refused":
            self.report(protocol.REFUSED, socket=socket, error="busy")
        else:  # it ends just as the invitation comes
            self.end(Reason.NOBODY_REATTACHED, seconds="0")

    def end(self, reason: Reason, **params: object) -> None:
        self.report(protocol.ENDED, reason=reason, params=params)
        self._exit()

    def _exit(self) -> None:
        with self._lock:
            self._out.close()
        self.exited.set()

    def wait(self, timeout: float | None = None) -> int:
        if not self.exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"fake console {self.pid}", timeout)
        return 0

    def kill(self) -> None:
        self._exit()


class FakeLauncher:
    """Starts ``FakeConsole``s; ``hold`` keeps the next launch waiting until released."""

    def __init__(self) -> None:
        self.consoles: list[FakeConsole] = []
        self.on_invite = "invited"
        self.hold: threading.Event | None = None
        self.called = threading.Event()

    def __call__(self, spec: ConsoleSpec) -> FakeConsole:
        self.called.set()
        if self.hold is not None:
            assert self.hold.wait(TIMEOUT), "the held launch was never released"
        console = FakeConsole(spec, self.on_invite)
        self.consoles.append(console)
        return console


class FakeGuests:
    def __init__(self) -> None:
        self.stopped: list[str] = []
        self.state = "running"
        self.guest = GUEST  # as libvirt describes it now (its run: the domain ID)

    def lookup(self, guest_uuid: str, hypervisor: str) -> Guest:
        assert (guest_uuid, hypervisor) == (GUEST.uuid, GUEST.hypervisor)
        return replace(self.guest, state=self.state)

    def guest_stopped(self, guest: Guest) -> None:
        self.stopped.append(guest.uuid)


class RecordingEvent(threading.Event):
    """An Event that tells when somebody started waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.set()
        return super().wait(timeout)


def wait_until(predicate, what: str):
    deadline = time.monotonic() + TIMEOUT
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return result


@pytest.fixture
def launcher():
    made = FakeLauncher()
    yield made
    for console in made.consoles:
        console.kill()


@pytest.fixture
def manager(tmp_path: Path, launcher):
    tokens = TokenStore(tmp_path / "tokens").open(create=True)
    settings = replace(Settings.from_config(configparser.ConfigParser()), max_viewers=2)
    not_captured = replace(settings.capture, enabled=False)  # captures: the test at the end
    made = SessionManager(
        FakeGuests(), tokens, replace(settings, capture=not_captured),
        {GUEST.hypervisor: "test:///default", "two": "qemu+tls://two/system"},
        tmp_path, launcher,
    )  # fmt: skip
    yield made
    made.stop_all()
    tokens.close()


def state_of(manager: SessionManager) -> str:
    (session,) = manager.describe()
    return session["state"]


def connect(manager: SessionManager, console: FakeConsole, socket: str, mode: str) -> None:
    """The client of ``socket`` connects, and the manager has seen it."""
    console.report(protocol.CONNECTED, socket=socket, mode=mode)
    session = manager.list()[0]
    wait_until(lambda: session.claims[socket].state == CONNECTED, f"{socket} connected")


def test_a_first_request_starts_a_process_with_the_settings_of_the_config(manager, launcher):
    opened = manager.open(GUEST, None, language="de_DE")
    (console,) = launcher.consoles
    assert console.spec.settings == manager.settings.console
    assert (console.spec.guest_name, console.spec.language) == ("vm", "de_DE")
    assert console.spec.socket_path.name == opened.session.console_id
    assert not opened.reattached and state_of(manager) == WAITING


def test_a_viewer_joins_the_running_process_up_to_the_limit(manager, launcher):
    writer = manager.open(GUEST, None)
    (console,) = launcher.consoles
    connect(manager, console, writer.session.console_id, "write")
    viewers = [manager.open(GUEST, None, mode="view") for _ in range(2)]
    assert all(v.reattached and v.session is writer.session for v in viewers)
    assert len(launcher.consoles) == 1
    assert [i["mode"] for i in console.invites] == ["view", "view"]
    with pytest.raises(SerialConsoleError) as refused:
        manager.open(GUEST, None, mode="view")
    assert (refused.value.status, refused.value.params["limit"]) == (503, 2)
    assert state_of(manager) == CONNECTED


def test_a_writer_reattaches_to_a_detached_process(manager, launcher):
    first = manager.open(GUEST, None)
    (console,) = launcher.consoles
    socket = first.session.console_id
    connect(manager, console, socket, "write")
    console.report(protocol.LEFT, socket=socket, mode="write")
    wait_until(lambda: state_of(manager) == DETACHED, "the writer gone")
    again = manager.open(GUEST, None)
    assert again.reattached and again.session is first.session
    assert len(launcher.consoles) == 1 and console.invites[0]["mode"] == "write"
    assert state_of(manager) == WAITING


def test_a_connected_writer_is_refused_without_force(manager, launcher):
    first = manager.open(GUEST, None)
    connect(manager, launcher.consoles[0], first.session.console_id, "write")
    with pytest.raises(SerialConsoleError) as refused:
        manager.open(GUEST, None)
    assert (refused.value.status, refused.value.code) == (409, "SCONS0003E")


def test_force_takes_the_console_over_from_a_connected_writer(manager, launcher):
    first = manager.open(GUEST, None)
    old = launcher.consoles[0]
    connect(manager, old, first.session.console_id, "write")
    taken = manager.open(GUEST, None, force=True)
    assert old.stops == [Reason.TAKEN_OVER] and first.session.ended.is_set()
    assert taken.session is not first.session and not taken.reattached
    assert len(launcher.consoles) == 2 and launcher.consoles[1].spec.force
    assert state_of(manager) == WAITING


def test_a_request_while_the_process_starts_waits_then_joins(manager, launcher):
    launcher.hold = threading.Event()
    results: dict[str, object] = {}
    writer = threading.Thread(target=lambda: results.update(writer=manager.open(GUEST, None)))
    writer.start()
    assert launcher.called.wait(TIMEOUT)
    (starting,) = manager._sessions.values()  # registered, its process not up yet
    starting.started = RecordingEvent()
    viewer = threading.Thread(
        target=lambda: results.update(viewer=manager.open(GUEST, None, mode="view"))
    )
    viewer.start()
    assert starting.started.waited.wait(TIMEOUT), "the viewer did not wait for the start"
    launcher.hold.set()
    writer.join(TIMEOUT)
    viewer.join(TIMEOUT)
    assert results["viewer"].reattached and results["viewer"].session is starting
    assert not results["writer"].reattached and len(launcher.consoles) == 1


def test_an_invitation_to_a_process_that_is_ending_starts_a_new_one(manager, launcher):
    first = manager.open(GUEST, None)
    old = launcher.consoles[0]
    old.on_invite = "ends"
    socket = first.session.console_id
    connect(manager, old, socket, "write")
    old.report(protocol.LEFT, socket=socket, mode="write")
    wait_until(lambda: state_of(manager) == DETACHED, "the writer gone")
    again = manager.open(GUEST, None)
    assert old.exited.is_set() and first.session.ended.is_set()
    assert not again.reattached and again.session is not first.session
    assert len(launcher.consoles) == 2


def test_a_refused_invitation_is_a_clear_error_and_frees_the_slot(manager, launcher, monkeypatch):
    monkeypatch.setattr(console_sessions, "STOP_TIMEOUT", 0.2)  # how long it may take to end
    first = manager.open(GUEST, None)
    console = launcher.consoles[0]
    connect(manager, console, first.session.console_id, "write")
    console.on_invite = "refused"
    with pytest.raises(SerialConsoleError) as failed:
        manager.open(GUEST, None, mode="view")
    assert (failed.value.status, failed.value.code) == (500, "SCONS0009E")
    (claim,) = [c for c in first.session.claims.values() if c.mode == "view"]
    assert claim.state == "gone" and claim.token is None
    assert manager.describe()[0]["viewers"] == []


def test_a_spec_refused_at_the_start_leaves_no_session_behind(manager, launcher):
    """The session is reserved before its spec is built: a spec refused (an escape key
    no client may have) must not keep the console taken for the next request."""
    with pytest.raises(SpecError):
        manager.open(GUEST, None, escape="ctrl-x")
    assert not manager._sessions and launcher.consoles == []  # none reserved, none started
    assert manager.open(GUEST, None).session.process is not None


def test_a_process_ending_removes_its_tokens(manager, launcher, tmp_path):
    first = manager.open(GUEST, None)
    console = launcher.consoles[0]
    assert (tmp_path / "tokens" / first.token.digest).exists()
    console.end(Reason.GUEST_STOPPED)
    assert first.session.ended.wait(TIMEOUT)
    assert not (tmp_path / "tokens" / first.token.digest).exists()
    assert manager.guests.stopped == [GUEST.uuid] and manager.list() == []


def login(user: str, digest: str) -> Identity:
    """A browser login session of ``user`` whose cookie's value hashes to ``digest``."""
    return Identity(user, session_cookie="serialconsole_session", session_digest=digest * 64)


def tokens_left(tmp_path: Path) -> set[str]:
    return {path.name for path in (tmp_path / "tokens").iterdir()}


def _socket(opened) -> str:
    """The socket the token of ``opened`` names."""
    (claim,) = [c for c in opened.session.claims.values() if c.token == opened.token.digest]
    return claim.socket


def test_a_logout_revokes_its_unused_tokens_and_sends_its_clients_away(
    manager, launcher, tmp_path, caplog
):
    manager.settings = replace(manager.settings, max_viewers=3)
    alice, alice_elsewhere, bob = login("alice", "a"), login("alice", "b"), login("bob", "c")
    writer = manager.open(GUEST, None, identity=alice)
    (console,) = launcher.consoles
    connect(manager, console, writer.session.console_id, "write")
    unused = manager.open(GUEST, None, identity=alice, mode="view")
    others = [
        manager.open(GUEST, None, identity=who, mode="view") for who in (alice_elsewhere, bob)
    ]
    caplog.set_level("INFO", logger=console_sessions.__name__)

    manager.end_login("alice", alice.session_digest)

    wait_until(lambda: len(console.drops) == 2, "two drop lines")
    assert sorted(console.drops) == sorted(
        [(_socket(writer), "login-ended"), (_socket(unused), "login-ended")]
    )
    assert tokens_left(tmp_path) == {opened.token.digest for opened in others}
    (session,) = manager.describe()
    assert session["state"] == DETACHED  # the writer's place is free for a reattach
    assert len(session["viewers"]) == 2
    assert (
        "login of operator alice ended: 1 unused console tokens revoked, 1 clients sent away"
        in (caplog.text)
    )


def test_without_a_login_digest_every_client_of_the_user_goes(manager, launcher, tmp_path):
    basic = manager.open(GUEST, None, identity=Identity("alice"))  # HTTP Basic: no session
    cookie = manager.open(GUEST, None, identity=login("alice", "a"), mode="view")
    bob = manager.open(GUEST, None, identity=login("bob", "b"), mode="view")
    manager.end_login("alice", None)
    (console,) = launcher.consoles
    wait_until(lambda: len(console.drops) == 2, "two drop lines")
    assert sorted(name for name, _ in console.drops) == sorted([_socket(basic), _socket(cookie)])
    assert tokens_left(tmp_path) == {bob.token.digest}


def test_a_login_that_ends_while_its_console_starts_gets_no_token(manager, launcher, tmp_path):
    launcher.hold = threading.Event()
    failed: list[BaseException] = []

    def open_console() -> None:
        try:
            manager.open(GUEST, None, identity=login("alice", "a"))
        except SerialConsoleError as error:
            failed.append(error)

    opener = threading.Thread(target=open_console)
    opener.start()
    assert launcher.called.wait(TIMEOUT)
    manager.end_login("alice", "a" * 64)  # its process is not up yet: nothing to tell it
    launcher.hold.set()
    opener.join(TIMEOUT)
    (error,) = failed
    assert (error.status, error.code) == (401, "SCONS0016E")
    (console,) = launcher.consoles
    wait_until(lambda: console.drops, "the drop line")
    assert console.drops == [(console.spec.socket_path.name, "login-ended")]
    assert tokens_left(tmp_path) == set()


def test_an_open_before_the_capture_starts_it_and_joins_it(manager, launcher):
    # The request races the guest's start (the capture keeper has not seen it yet): it
    # must not get a console process of its own, uncaptured, holding the console until
    # it ends; the capture starts now, and the request joins it.
    manager.settings = replace(
        manager.settings, capture=replace(manager.settings.capture, enabled=True)
    )
    opened = manager.open(GUEST, None)
    (console,) = launcher.consoles
    assert console.spec.capture and console.spec.first_invite() is None
    assert opened.session.captured and opened.reattached
    assert [invite["mode"] for invite in console.invites] == ["write"]


TWO_CONSOLES = replace(
    GUEST, consoles=(ConsoleDevice("serial0", "pty"), ConsoleDevice("serial1", "pty"))
)


def capturing(manager: SessionManager) -> None:
    manager.settings = replace(
        manager.settings, capture=replace(manager.settings.capture, enabled=True)
    )


def test_a_capture_that_is_ending_does_not_capture_the_next_run(manager, launcher, monkeypatch):
    # virsh destroy, then a start before the old capture is reaped: its process has said
    # it ends (the guest stopped) but not exited. The new run must get a capture of its
    # own, not be reported as captured by the one that is ending.
    capturing(manager)
    assert manager.capture(GUEST) == ["serial0"]
    (old,) = launcher.consoles
    (session,) = manager.list()
    said_end = threading.Event()
    on_report = manager._on_report

    def seen(reported, report) -> None:
        on_report(reported, report)
        if report.get("event") == protocol.ENDED:
            said_end.set()

    monkeypatch.setattr(manager, "_on_report", seen)
    session.ended = RecordingEvent()
    old.report(protocol.ENDED, reason=Reason.GUEST_STOPPED, params={})
    assert said_end.wait(TIMEOUT)
    results: list[list[str]] = []
    starter = threading.Thread(target=lambda: results.append(manager.capture(GUEST, True)))
    starter.start()
    assert session.ended.waited.wait(TIMEOUT), "the new run counted the old capture as its own"
    old._exit()
    starter.join(TIMEOUT)
    assert results == [["serial0"]]
    assert len(launcher.consoles) == 2 and launcher.consoles[1].spec.booted
    (new,) = manager.list()
    assert new is not session and new.process.pid == launcher.consoles[1].pid


def test_a_start_right_after_a_stop_waits_for_the_earlier_runs_capture(manager, launcher):
    # virsh destroy; virsh start: the STARTED event is handled before the old capture has
    # even noticed the stop. libvirt gave the new run another domain ID, so the capture
    # attached to the earlier run must not count as the new run's (no clock is asked).
    capturing(manager)
    manager.guests.guest = replace(GUEST, run_id=1)
    manager.capture(manager.guests.guest)
    (old,) = launcher.consoles
    (session,) = manager.list()
    session.ended = RecordingEvent()
    results: list[list[str]] = []
    manager.guests.guest = replace(GUEST, run_id=2)
    starter = threading.Thread(
        target=lambda: results.append(manager.capture(manager.guests.guest, True))
    )
    starter.start()
    assert session.ended.waited.wait(TIMEOUT), "the new run counted the old capture as its own"
    old.end(Reason.GUEST_STOPPED)
    starter.join(TIMEOUT)
    assert results == [["serial0"]] and len(launcher.consoles) == 2
    (new,) = manager.list()
    assert new.guest.run_id == 2 and launcher.consoles[1].spec.booted


def test_a_listing_from_before_a_restart_counts_the_new_runs_capture(manager, launcher):
    # The recheck listed the guest just before it was destroyed and started again; the
    # new run is captured meanwhile. The stale listing's run must not make the new
    # run's capture look like an earlier run's (awaited in vain until it gives up).
    capturing(manager)
    manager.guests.guest = replace(GUEST, run_id=2)
    manager.capture(manager.guests.guest, True)
    (session,) = manager.list()
    session.ended = RecordingEvent()
    assert manager.capture(replace(GUEST, run_id=1)) == ["serial0"]
    assert not session.ended.waited.is_set() and len(launcher.consoles) == 1


def test_a_guest_stop_seen_late_spares_the_next_runs_captures(manager, launcher, monkeypatch):
    # serial1's old capture ended at once; the guest ran again and serial1 was captured
    # anew while serial0's old capture is awaited; only then does it report the stop.
    # The new run's capture of serial1 must not be stopped for it.
    capturing(manager)
    manager.guests.guest = replace(TWO_CONSOLES, run_id=1)
    manager.capture(manager.guests.guest)
    old0, old1 = launcher.consoles
    old1.end(Reason.CONSOLE_CLOSED)
    wait_until(lambda: len(manager.list()) == 1, "serial1's old capture gone")
    serial0, serial1 = TWO_CONSOLES.consoles
    run2 = manager.guests.guest = replace(TWO_CONSOLES, consoles=(serial1, serial0), run_id=2)
    results: list[list[str]] = []
    starter = threading.Thread(target=lambda: results.append(manager.capture(run2, True)))
    starter.start()
    new1 = wait_until(
        lambda: next((s for s in manager.list() if s.guest.run_id == 2), None), "serial1 anew"
    )
    stops: list[Reason] = []
    monkeypatch.setattr(new1.process, "request_stop", stops.append)
    old0.end(Reason.GUEST_STOPPED)
    starter.join(TIMEOUT)
    assert results == [["serial1", "serial0"]]
    assert stops == []


def test_a_guest_stop_stops_that_runs_consoles_though_the_guest_runs_again(manager, launcher):
    # The guest was destroyed and started again (the lookup says running): serial0's
    # capture of the earlier run saw the stop, so serial1's of that run is stopped too.
    capturing(manager)
    manager.guests.guest = replace(TWO_CONSOLES, run_id=1)
    manager.capture(manager.guests.guest)
    old0, old1 = launcher.consoles
    manager.guests.guest = replace(TWO_CONSOLES, run_id=2)
    old0.end(Reason.GUEST_STOPPED)
    assert old1.exited.wait(TIMEOUT) and old1.stops == ["guest-stopped"]


def test_a_guest_stop_stops_the_other_consoles_of_that_run(manager, launcher, monkeypatch):
    capturing(manager)
    manager.guests.guest = TWO_CONSOLES
    manager.capture(TWO_CONSOLES)
    old0, old1 = launcher.consoles
    manager.guests.state = "shut off"
    session0 = next(s for s in manager.list() if s.device.alias == "serial0")
    old0.end(Reason.GUEST_STOPPED)
    assert session0.ended.wait(TIMEOUT)
    assert old1.exited.wait(TIMEOUT) and old1.stops == ["guest-stopped"]


def audited(manager: SessionManager, tmp_path: Path) -> AuditTrail:
    manager.audit = AuditTrail(AuditFile(tmp_path / "audit.log", 1 << 20).open())
    return manager.audit


def trail_of(trail: AuditTrail) -> list[tuple[str, str | None]]:
    return [(e["event"], e.get("reason")) for e in trail.read(lambda event: True, 100)]


def test_a_console_ending_as_its_token_is_issued_still_ends_the_session_audited(
    manager, launcher, tmp_path, monkeypatch
):
    trail = audited(manager, tmp_path)
    issue = manager._issue

    def issue_then_end(session, *args):
        token = issue(session, *args)
        launcher.consoles[0].end(Reason.CONSOLE_CLOSED)
        assert session.ended.wait(TIMEOUT), "the ended console was cleaned up"
        return token

    monkeypatch.setattr(manager, "_issue", issue_then_end)
    manager.open(GUEST, None, identity=login("alice", "a"))
    assert trail_of(trail) == [("opened", None), ("ended", "console-closed")]


def test_a_token_that_cannot_be_issued_ends_the_session_audited(manager, tmp_path, monkeypatch):
    trail = audited(manager, tmp_path)

    def no_room(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manager.tokens, "issue", no_room)
    with pytest.raises(OSError):
        manager.open(GUEST, None, identity=login("alice", "a"))
    assert trail_of(trail)[:2] == [("opened", None), ("ended", "open-failed")]


def test_a_copy_on_another_hypervisor_gets_its_own_process_on_its_own_uri(manager, launcher):
    copy = replace(GUEST, hypervisor="two")  # the same UUID: a copied definition
    first, second = manager.open(GUEST, None), manager.open(copy, None)
    assert [console.spec.uri for console in launcher.consoles] == [
        "test:///default",
        "qemu+tls://two/system",
    ]
    assert first.session is not second.session
    assert first.token.token != second.token.token
    assert first.session.console_id != second.session.console_id
    assert [s["hypervisor"] for s in manager.describe(copy)] == ["two"]


def test_a_lost_hypervisor_ends_its_guests_sessions_saying_so_and_spares_the_others(
    manager, launcher
):
    lost = manager.open(GUEST, None)
    twin = replace(GUEST, hypervisor="two")  # the same UUID on another hypervisor
    spared = manager.open(twin, None)
    assert lost.session is not spared.session
    why = {"hypervisor": "qemu+tls://hv1/system?pkipath=***", "error": "no answer"}
    assert manager.end_hypervisor(GUEST.hypervisor, **why) == 1
    assert lost.session.ended.is_set()
    assert lost.session.process.end == (Reason.HYPERVISOR_UNREACHABLE, why)
    assert [s.guest.hypervisor for s in manager.list()] == ["two"]
    assert launcher.consoles[1].stops == []


def test_a_console_lost_with_its_hypervisor_is_taken_back_from_our_dead_connection_once(
    manager, launcher
):
    """libvirtd may still hold the console for the connection that died with the link (until
    its keepalive notices): the next start forced it, else it answered "in use"."""
    lost = manager.open(GUEST, None)
    manager.end_hypervisor(GUEST.hypervisor, hypervisor="qemu+tls://hv1/system", error="gone")
    assert lost.session.ended.wait(TIMEOUT)
    taken_back = manager.open(GUEST, None)
    manager.close(GUEST, None)
    assert taken_back.session.ended.wait(TIMEOUT)
    manager.open(GUEST, None)
    assert [console.spec.force for console in launcher.consoles] == [False, True, False]


def test_a_console_lost_long_ago_is_not_forced_from_whoever_holds_it_now(
    manager, launcher, monkeypatch
):
    """Past the window, the console's holder is another client (an admin's virsh console),
    not our dead connection: a start must not take it over."""
    lost = manager.open(GUEST, None)
    manager.end_hypervisor(GUEST.hypervisor, hypervisor="qemu+tls://hv1/system", error="gone")
    assert lost.session.ended.wait(TIMEOUT)
    monkeypatch.setattr(session_processes, "HELD_BY_THE_LOST", 0.0)
    manager.open(GUEST, None)
    assert [console.spec.force for console in launcher.consoles] == [False, False]


def test_a_capture_that_keeps_no_log_lists_no_recording_from_the_epoch(manager, launcher, tmp_path):
    """An invitation with no cut time (the capture could not open its log) was indexed as a
    session opened at 0: its recording was the whole log, other sessions' output too."""
    (tmp_path / "logs").mkdir(mode=0o700)
    manager.recordings = RecordingIndex(tmp_path / "logs")
    manager.settings = replace(
        manager.settings, capture=replace(manager.settings.capture, enabled=True)
    )
    opened = manager.open(GUEST, None)  # the fake console's invitation names no cut time
    assert opened.session.captured
    assert list((tmp_path / "logs").iterdir()) == []


def test_the_writers_login_opening_again_reattaches_before_the_host_hears_it_left(
    manager, launcher, tmp_path
):
    # A reloaded page: its old client's "left" is still on its way (this fake never sends
    # it), so the host still sees that login's writer connected when the new page asks.
    trail = audited(manager, tmp_path)
    alice = login("alice", "a")
    first = manager.open(GUEST, None, identity=alice)
    (console,) = launcher.consoles
    connect(manager, console, first.session.console_id, "write")
    again = manager.open(GUEST, None, identity=alice)
    assert again.reattached and again.session is first.session
    assert len(launcher.consoles) == 1
    wait_until(lambda: console.drops, "the drop line")
    assert console.drops == [(first.session.console_id, "reopened")]
    # the old page goes before the new one is invited, which the process would refuse
    assert console.heard == [protocol.DROP, protocol.INVITE]
    assert tokens_left(tmp_path) == {again.token.digest}
    assert state_of(manager) == WAITING
    assert trail_of(trail)[-2:] == [("ended", "reopened"), ("opened", None)]
    ended, opened = trail.read(lambda event: True, 100)[-2:]
    assert ended["replaced_by"] == opened["session"] != ended["session"]


def test_an_unused_writer_token_of_the_same_login_is_withdrawn_by_its_reload(
    manager, launcher, tmp_path
):
    alice = login("alice", "a")
    manager.open(GUEST, None, identity=alice)
    (console,) = launcher.consoles
    again = manager.open(GUEST, None, identity=alice)  # reloaded before it connected
    assert again.reattached
    wait_until(lambda: console.drops, "the drop line")
    assert console.drops == [(console.spec.socket_path.name, "reopened")]
    assert tokens_left(tmp_path) == {again.token.digest}


def test_other_logins_still_find_the_console_in_use_and_need_force(manager, launcher):
    first = manager.open(GUEST, None, identity=login("alice", "a"))
    (console,) = launcher.consoles
    connect(manager, console, first.session.console_id, "write")
    others = (login("alice", "b"), Identity("alice"), login("bob", "a"), None)
    for other in others:  # another login of hers, HTTP Basic, another operator, no auth
        with pytest.raises(SerialConsoleError) as refused:
            manager.open(GUEST, None, identity=other)
        assert (refused.value.status, refused.value.code) == (409, "SCONS0003E")
    viewer = manager.open(GUEST, None, identity=login("alice", "a"), mode="view")
    assert viewer.reattached and console.drops == [] and state_of(manager) == CONNECTED


def test_the_writers_login_opening_a_capture_again_keeps_the_capture(manager, launcher):
    capturing(manager)
    alice = login("alice", "a")
    first = manager.open(GUEST, None, identity=alice)
    (console,) = launcher.consoles
    (socket,) = [invite["socket"] for invite in console.invites]
    connect(manager, console, socket, "write")
    again = manager.open(GUEST, None, identity=alice)
    assert again.reattached and again.session is first.session and first.session.captured
    wait_until(lambda: console.drops, "the drop line")
    assert console.drops == [(socket, "reopened")] and console.stops == []
