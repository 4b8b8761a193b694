"""Each hypervisor's shared connection: kept in the background, never waited for."""

from __future__ import annotations

import threading

import libvirt
import pytest

from plugin_serialconsole.host import connection as connection_module
from plugin_serialconsole.host.connection import (
    CONNECTED,
    UNREACHABLE,
    HypervisorConnection,
    HypervisorUnavailable,
)
from plugin_serialconsole.host.hypervisors import Hypervisors
from plugin_serialconsole.libvirtloop import KEEPALIVE

TIMEOUT = 5.0
SECRET_URI = "qemu+tls://hv1.example.org/system?pkipath=/secret/pki"


class FakeConnection:
    def __init__(self, guests: int = 2) -> None:
        self.guests = guests
        self.alive = True
        self.closed = False
        self.on_close = None
        self.keepalive = None

    def isAlive(self) -> int:
        return int(self.alive)

    def setKeepAlive(self, interval: int, count: int) -> int:
        self.keepalive = (interval, count)
        return 0

    def registerCloseCallback(self, callback, opaque) -> int:
        self.on_close = callback
        return 0

    def unregisterCloseCallback(self) -> int:
        return 0

    def numOfDomains(self) -> int:
        return self.guests

    def numOfDefinedDomains(self) -> int:
        return 0

    def close(self) -> int:
        self.closed = True
        return 0


class Opener:
    """Answers each connect with the next outcome: a connection or an error message."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.uris: list[str] = []

    def __call__(self, uri: str):
        self.uris.append(uri)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, str):
            raise libvirt.libvirtError(outcome)
        if isinstance(outcome, threading.Event):
            outcome.wait(TIMEOUT)
            raise libvirt.libvirtError("gave up")
        if callable(outcome):
            return outcome()
        return outcome


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(connection_module, "BACKOFF_FIRST", 0.01)


@pytest.fixture
def started():
    connections: list[HypervisorConnection] = []

    def start(uri: str, opener: Opener) -> HypervisorConnection:
        hypervisor = HypervisorConnection("hv1", uri, opener)
        connections.append(hypervisor)
        hypervisor.start()
        return hypervisor

    yield start
    for hypervisor in connections:
        hypervisor.stop()


def test_connected_with_keepalive_and_its_guests_counted(started):
    conn = FakeConnection(guests=3)
    hypervisor = started("test:///default", Opener(conn))
    assert hypervisor.wait_state(CONNECTED, TIMEOUT)
    assert hypervisor.get() is conn
    assert conn.keepalive == (KEEPALIVE.interval, KEEPALIVE.count)
    state = hypervisor.state()
    assert (state.name, state.state, state.guests, state.reason) == ("hv1", CONNECTED, 3, "")


def test_unreachable_answers_at_once_with_a_redacted_reason_then_retries(started):
    conn = FakeConnection()
    failure = "Cannot read CA certificate '/secret/pki/cacert.pem'"
    answer = threading.Event()

    def answer_when_told() -> FakeConnection:
        answer.wait(TIMEOUT)
        return conn

    opener = Opener(failure, failure, answer_when_told)
    hypervisor = started(SECRET_URI, opener)
    assert hypervisor.wait_state(UNREACHABLE, TIMEOUT)
    with pytest.raises(HypervisorUnavailable):
        hypervisor.get()
    state = hypervisor.state()
    assert "/secret" not in state.reason and "cacert.pem" in state.reason
    assert state.uri == "qemu+tls://hv1.example.org/system?pkipath=***"
    answer.set()
    assert hypervisor.wait_state(CONNECTED, TIMEOUT)
    assert len(opener.uris) == 3


def test_a_request_never_waits_on_a_connect_in_progress(started, monkeypatch):
    monkeypatch.setattr(connection_module, "CONNECT_TIMEOUT", 0.0)
    hanging = threading.Event()
    hypervisor = started(SECRET_URI, Opener(hanging))
    try:
        with pytest.raises(HypervisorUnavailable) as refused:
            hypervisor.get()  # while the connect hangs
        assert refused.value.get_error_code() == libvirt.VIR_ERR_NO_CONNECT
        state = hypervisor.state()
        assert (state.state, state.guests) == (UNREACHABLE, None)
        assert state.reason.startswith("no answer within")
    finally:
        hanging.set()


def test_a_connection_closed_by_libvirt_is_reopened(started):
    first, second = FakeConnection(), FakeConnection()
    hypervisor = started("qemu+tcp://hv1/system", Opener(first, second))
    assert hypervisor.wait_state(CONNECTED, TIMEOUT)
    first.alive = False
    first.on_close(first, libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE, None)
    with pytest.raises(HypervisorUnavailable):
        hypervisor.get()
    assert hypervisor.wait_state(CONNECTED, TIMEOUT)
    assert hypervisor.get() is second
    assert not first.closed  # closed by libvirt: left to the garbage collector (see _watch)


def test_a_dead_connection_found_by_a_caller_is_reopened(started):
    first, second = FakeConnection(), FakeConnection()
    hypervisor = started("qemu+tcp://hv1/system", Opener(first, second))
    assert hypervisor.wait_state(CONNECTED, TIMEOUT)
    first.alive = False
    with pytest.raises(HypervisorUnavailable):
        hypervisor.get()
    assert hypervisor.wait_state(CONNECTED, TIMEOUT)
    assert hypervisor.get() is second


class SilentlyClosed(FakeConnection):
    """Closed by libvirt's keepalive during another thread's call: its close callback is
    never called (libvirt 9.0, a pulled link while GET /vms waited); calls then fail."""

    def numOfDomains(self) -> int:  # noqa: N802 (libvirt's name)
        if not self.alive:
            raise libvirt.libvirtError("internal error: connection closed due to keepalive timeout")
        return self.guests


def test_a_connection_closed_without_its_close_callback_is_seen_and_listeners_told(
    started, monkeypatch
):
    monkeypatch.setattr(connection_module, "LIVENESS_INTERVAL", 0.01)
    first = SilentlyClosed()
    hypervisor = started("qemu+tcp://hv1/system", Opener(first, "No route to host"))
    assert hypervisor.wait_state(CONNECTED, TIMEOUT)
    heard = []
    hypervisor.add_listener(lambda state: heard.append((state.state, state.guests)))
    first.alive = False  # and nothing calls get(): no request comes
    assert hypervisor.wait_state(UNREACHABLE, TIMEOUT)
    assert heard[0] == (UNREACHABLE, None)


def test_the_registry_keeps_order_and_one_slow_hypervisor_holds_up_no_other():
    hanging = threading.Event()
    quick = FakeConnection()
    openers = {"slow": Opener(hanging), "quick": Opener(quick)}
    hypervisors = Hypervisors(
        {"slow": "qemu+tcp://slow/system", "quick": "test:///default"},
        lambda uri: openers["slow" if "slow" in uri else "quick"](uri),
    )
    try:
        hypervisors.start(wait=0.0)
        assert hypervisors.names() == ["slow", "quick"]
        assert hypervisors.get("quick").wait_state(CONNECTED, TIMEOUT)
        assert hypervisors.get("quick").get() is quick  # while "slow" still hangs
        assert hypervisors.default().name == "slow"  # no "default": the first named
        assert [state.name for state in hypervisors.states()] == ["slow", "quick"]
    finally:
        hanging.set()
        hypervisors.stop()


def test_libvirt_error_reports_reach_the_log_without_the_uris_credentials(tmp_path, caplog):
    """libvirt's error report for a TLS URI whose pkipath has no files names the files; the
    debug log gets it with the path as ``***``."""
    secret = tmp_path / "secret-pki"
    uri = f"qemu+tls://127.0.0.2:1/system?pkipath={secret}"
    caplog.set_level("DEBUG", logger=connection_module.__name__)
    connection_module.log_libvirt_errors([uri])
    try:
        with pytest.raises(libvirt.libvirtError) as raised:
            libvirt.open(uri)
    finally:
        libvirt.registerErrorHandler(lambda _context, _error: None, None)
    assert str(secret) in raised.value.get_error_message(), "libvirt named the path"
    reports = [record.getMessage() for record in caplog.records]
    assert any(report.startswith("libvirt: ") and "***" in report for report in reports)
    assert not [report for report in reports if str(secret) in report]
