"""The capture keeper (issue 15): libvirt's lifecycle events on the shared connection
start captures (a boot's as a boot), a new connection is followed again, and the policy's
patterns choose the guests."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import replace

import libvirt
import pytest

from plugin_serialconsole.hypervisor_uris import DEFAULT_NAME
from plugin_serialconsole.model import captures
from plugin_serialconsole.model.capture_policy import CapturePolicy
from plugin_serialconsole.model.captures import CaptureKeeper
from plugin_serialconsole.model.guests import ConsoleDevice, Guest

WAIT = 5.0
SERIAL = (ConsoleDevice("serial0", "pty"),)
WEB = Guest("web-1", "00000000-0000-4000-8000-000000000001", "running", SERIAL)
DB = Guest("db-1", "00000000-0000-4000-8000-000000000002", "running", SERIAL)
OFF = Guest("web-off", "00000000-0000-4000-8000-000000000003", "shutoff", SERIAL)


class Domain:
    def __init__(self, uuid: str) -> None:
        self.uuid = uuid

    def UUIDString(self) -> str:  # noqa: N802 (libvirt's name)
        return self.uuid


class Connection:
    def __init__(self) -> None:
        self.callbacks: dict[int, object] = {}

    def domainEventRegisterAny(self, domain, event_id, callback, opaque) -> int:  # noqa: N802
        assert domain is None and event_id == libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE
        self.callbacks[len(self.callbacks) + 1] = (callback, opaque)
        return len(self.callbacks)

    def domainEventDeregisterAny(self, callback_id: int) -> None:  # noqa: N802
        del self.callbacks[callback_id]

    def fire(self, guest: Guest, event: int, detail: int) -> None:
        for callback, opaque in list(self.callbacks.values()):
            callback(self, Domain(guest.uuid), event, detail, opaque)


class Guests:
    def __init__(self, *guests: Guest) -> None:
        self.guests = {guest.uuid: guest for guest in guests}

    def list(self) -> list[Guest]:
        return list(self.guests.values())

    def lookup(self, ident: str, hypervisor: str | None = None) -> Guest:
        assert hypervisor == self.guests[ident].hypervisor
        return self.guests[ident]


class Sessions:
    """Records each capture asked for: (guest name, booted)."""

    def __init__(self) -> None:
        self.asked: queue.Queue[tuple[str, bool]] = queue.Queue()

    def capture(self, guest: Guest, booted: bool = False) -> list[str]:
        self.asked.put((guest.name, booted))
        return [device.alias for device in guest.consoles]

    def next(self) -> tuple[str, bool]:
        return self.asked.get(timeout=WAIT)


@pytest.fixture
def world():
    conn = Connection()
    sessions = Sessions()
    guests = Guests(WEB, DB, OFF)
    keepers: list[CaptureKeeper] = []

    def keeper(include: str = "", connection=lambda: conn) -> CaptureKeeper:
        policy = CapturePolicy.from_values("all", include, "", "/var/lib/x")
        made = CaptureKeeper(guests, sessions, policy, {DEFAULT_NAME: connection})
        keepers.append(made)
        made.start()
        return made

    yield conn, sessions, keeper
    for made in keepers:
        made.stop()
    assert conn.callbacks == {}  # deregistered on stop


def test_running_guests_at_start_then_a_boot_and_a_resume(world):
    conn, sessions, keeper = world
    keeper()
    assert {sessions.next(), sessions.next()} == {("web-1", False), ("db-1", False)}
    conn.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    assert sessions.next() == ("web-1", True)
    conn.fire(DB, libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
    assert sessions.next() == ("db-1", False)
    conn.fire(DB, libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)
    conn.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_RESTORED)
    assert sessions.next() == ("web-1", False)  # a restore is no boot; the stop asked nothing


def test_only_the_included_guests(world):
    conn, sessions, keeper = world
    keeper(include="web-*")
    assert sessions.next() == ("web-1", False)
    conn.fire(DB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    conn.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    assert sessions.next() == ("web-1", True)


def test_a_new_connection_is_followed_and_the_old_one_let_go(world):
    conn, sessions, keeper = world
    current = [conn]
    made = keeper(connection=lambda: current[0])
    sessions.next(), sessions.next()
    replacement = Connection()
    current[0] = replacement
    conn.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    assert sessions.next() == ("web-1", True)  # handled, then the connection checked
    found = {sessions.next(), sessions.next()}  # everything checked again on the new one
    assert found == {("web-1", False), ("db-1", False)}
    assert conn.callbacks == {} and len(replacement.callbacks) == 1
    replacement.fire(DB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    assert sessions.next() == ("db-1", True)
    made.stop()
    assert replacement.callbacks == {}


def test_a_start_whose_capture_fails_still_resumes_the_guest():
    class Paused(Guests):
        resumed: list[str] = []

        def start_paused(self, guest: Guest) -> Guest:
            return guest

        def resume(self, guest: Guest) -> Guest:
            self.resumed.append(guest.name)
            return guest

    class Failing(Sessions):
        def capture(self, guest: Guest, booted: bool = False) -> list[str]:
            raise OSError("no more processes")  # e.g. fork failing with EAGAIN

    guests = Paused(OFF)
    policy = CapturePolicy.from_values("all", "", "", "/var/lib/x")
    keeper = CaptureKeeper(guests, Failing(), policy, {DEFAULT_NAME: lambda: Connection()})
    with pytest.raises(OSError):
        keeper.start_guest(OFF)
    assert guests.resumed == ["web-off"]  # not left paused


class BusySessions(Sessions):
    """``busy`` guests' consoles are held by another client: never captured."""

    def __init__(self, *busy: Guest) -> None:
        super().__init__()
        self.busy = {guest.uuid for guest in busy}

    def capture(self, guest: Guest, booted: bool = False) -> list[str]:
        super().capture(guest, booted)
        return [] if guest.uuid in self.busy else [d.alias for d in guest.consoles]


def test_a_console_held_by_another_client_is_retried_ever_less_often_and_quietly(
    monkeypatch, caplog
):
    # `virsh console --force` holds web-1's console: each recheck used to start a
    # console process for it and log at INFO. Now web-1 is tried after RECHECK, then
    # after twice as long each time; the wait is logged once, its end once.
    monkeypatch.setattr(captures, "RECHECK", 0.02)
    monkeypatch.setattr(captures, "BACKOFF_MAX", 10.0, raising=False)
    sessions = BusySessions(WEB)
    policy = CapturePolicy.from_values("all", "", "", "/var/lib/x")
    conn = Connection()
    keeper = CaptureKeeper(Guests(WEB, DB), sessions, policy, {DEFAULT_NAME: lambda: conn})
    caplog.set_level(logging.INFO, logger=captures.__name__)
    started = time.monotonic()
    keeper.start()
    try:
        asked: list[str] = []
        while asked.count("db-1") < 20:  # 20 rechecks (db-1 is asked at each)
            asked.append(sessions.next()[0])
        # tried at 0, R, 3R, 7R, 15R, ...: after t seconds, log2(t / R + 1) + 1 times
        tries = math.log2((time.monotonic() - started) / captures.RECHECK + 1) + 1
        assert asked.count("web-1") <= tries
        sessions.busy.clear()  # virsh leaves
        while sessions.next()[0] != "web-1":
            pass
        while asked.count("db-1") < 21:  # the recheck after web-1's capture is done
            asked.append(sessions.next()[0])
    finally:
        keeper.stop()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len([m for m in said if "web-1" in m]) == 2, said
    assert "not free" in said[0] and "captured again" in said[1]


class TwoHypervisors:
    """A fleet of two hypervisors, ``one`` and ``two``, each with a copy of web-1 (same UUID)."""

    def __init__(self) -> None:
        self.guests = {(g.hypervisor, g.uuid): g for g in (WEB, replace(WEB, hypervisor="two"))}

    def list(self) -> list[Guest]:
        return list(self.guests.values())

    def lookup(self, ident: str, hypervisor: str) -> Guest:
        return self.guests[(hypervisor, ident)]


class HypervisorSessions(Sessions):
    def capture(self, guest: Guest, booted: bool = False) -> list[str]:
        self.asked.put((guest.hypervisor, booted))
        return [device.alias for device in guest.consoles]


def test_every_hypervisors_events_start_the_capture_of_its_own_guest():
    one, two = Connection(), Connection()
    reachable = threading.Event()

    def two_connection() -> Connection:
        if not reachable.is_set():
            raise libvirt.libvirtError("hypervisor two: connecting")
        return two

    sessions = HypervisorSessions()
    policy = CapturePolicy.from_values("all", "", "", "/var/lib/x")
    connections = {DEFAULT_NAME: lambda: one, "two": two_connection}
    keeper = CaptureKeeper(TwoHypervisors(), sessions, policy, connections)
    keeper.start()
    try:
        assert {sessions.next(), sessions.next()} == {(DEFAULT_NAME, False), ("two", False)}
        one.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
        assert sessions.next() == (DEFAULT_NAME, True)  # two not connected: one still followed
        reachable.set()
        one.fire(WEB, libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
        assert sessions.next() == (DEFAULT_NAME, False)  # and two registered meanwhile
        two.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
        assert sessions.next() == ("two", True)  # the copy on two, not the original
    finally:
        keeper.stop()
    assert one.callbacks == {} and two.callbacks == {}


def test_a_pattern_naming_a_hypervisor_captures_its_copy_of_a_guest_only():
    one, two = Connection(), Connection()
    sessions = HypervisorSessions()
    policy = CapturePolicy.from_values("all", "two:web-*", "", "/var/lib/x")
    keeper = CaptureKeeper(
        TwoHypervisors(), sessions, policy, {DEFAULT_NAME: lambda: one, "two": lambda: two}
    )
    keeper.start()
    try:
        assert sessions.next() == ("two", False)  # at start: two's copy, not the original
        one.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
        two.fire(WEB, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
        assert sessions.next() == ("two", True)  # one's event, handled first, asked nothing
    finally:
        keeper.stop()
