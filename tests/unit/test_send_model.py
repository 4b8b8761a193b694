"""The sender: a hypervisor that hangs never holds a request for longer than the timeout,
and libvirt's errors become the plugin's."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace

import libvirt
import pytest

from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.model.send import GuestSender
from plugin_serialconsole.sendkeys import SendRequest

EXIT_TIMEOUT = 30.0
GUEST = Guest(
    "hung", "6695eb01-f6a4-8304-79aa-97f2502e193f", "running", (ConsoleDevice("serial0", "pty"),)
)


class HungDomain:
    """A domain whose hypervisor never answers until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.called = threading.Event()

    def injectNMI(self, flags: int) -> int:  # noqa: N802 (libvirt's name)
        self.called.set()
        self.release.wait()
        return 0


class Connection:
    def __init__(self, domain) -> None:
        self.domain = domain

    def lookupByUUIDString(self, uuid: str):  # noqa: N802 (libvirt's name)
        return self.domain


@pytest.fixture
def hung():
    domain = HungDomain()
    sender = GuestSender(
        lambda _hypervisor: Connection(domain), sessions=None, allow_break=False, timeout=0.2
    )
    yield sender, domain
    domain.release.set()


def test_a_hung_hypervisor_answers_504_and_the_next_request_is_not_stuck_behind_it(hung):
    sender, domain = hung
    with pytest.raises(SerialConsoleError) as first:
        sender.send(GUEST, SendRequest("nmi"), Identity("op"))
    assert (first.value.code, first.value.status) == ("SCONS0060E", 504)
    assert domain.called.is_set()
    # Still hung: the next request is answered all the same, not queued forever.
    with pytest.raises(SerialConsoleError) as second:
        sender.send(GUEST, SendRequest("nmi"), Identity("op"))
    assert second.value.code == "SCONS0060E"


class FailingDomain:
    def __init__(self, code: int) -> None:
        self.code = code

    def injectNMI(self, flags: int) -> int:  # noqa: N802
        error = libvirt.libvirtError("refused")
        error.err = (self.code, 0, "the hypervisor says no", 0, "", None, None, 0, 0)
        raise error


@pytest.mark.parametrize(
    ("libvirt_code", "code", "status"),
    [
        (libvirt.VIR_ERR_NO_SUPPORT, "SCONS0063E", 501),
        (libvirt.VIR_ERR_OPERATION_UNSUPPORTED, "SCONS0063E", 501),
        (libvirt.VIR_ERR_OPERATION_INVALID, "SCONS0002E", 409),
        (libvirt.VIR_ERR_NO_DOMAIN, "SCONS0001E", 404),
        (libvirt.VIR_ERR_INTERNAL_ERROR, "SCONS0061E", 502),
    ],
)
def test_libvirt_errors_become_the_plugins(libvirt_code, code, status):
    sender = GuestSender(lambda _hypervisor: Connection(FailingDomain(libvirt_code)), None, False)
    with pytest.raises(SerialConsoleError) as raised:
        sender.send(GUEST, SendRequest("nmi"), Identity("op"))
    assert (raised.value.code, raised.value.status) == (code, status)


HOST_EXIT = """
import threading
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.model.send import GuestSender
from plugin_serialconsole.sendkeys import SendRequest

class Forever:
    def lookupByUUIDString(self, uuid):
        threading.Event().wait()  # a hypervisor that never answers

guest = Guest("hung", "6695eb01-f6a4-8304-79aa-97f2502e193f", "running", ())
sender = GuestSender(lambda _hypervisor: Forever(), None, False, timeout=0.1)
try:
    sender.send(guest, SendRequest("nmi"), Identity("op"))
except SerialConsoleError as error:
    print(error.code, flush=True)
"""


def test_a_call_stuck_in_the_hypervisor_does_not_keep_the_host_from_exiting():
    done = subprocess.run(
        [sys.executable, "-c", HOST_EXIT], capture_output=True, text=True, timeout=EXIT_TIMEOUT
    )
    assert (done.returncode, done.stdout) == (0, "SCONS0060E\n"), done.stderr


class RecordingDomain:
    def __init__(self) -> None:
        self.nmis = 0

    def injectNMI(self, flags: int) -> int:  # noqa: N802 (libvirt's name)
        self.nmis += 1
        return 0


def test_an_nmi_goes_over_the_connection_of_the_guests_own_hypervisor():
    domains = {"default": RecordingDomain(), "two": RecordingDomain()}
    sender = GuestSender(lambda hypervisor: Connection(domains[hypervisor]), None, False)
    copy = replace(GUEST, hypervisor="two")  # the same UUID on another hypervisor
    sender.send(copy, SendRequest("nmi"), Identity("op"))
    assert (domains["default"].nmis, domains["two"].nmis) == (0, 1)


def test_sends_stuck_on_one_hypervisor_never_hold_a_send_to_another():
    """NMIs stuck on hypervisor one (a hung QEMU monitor) once took every send slot: an
    NMI to a guest on hypervisor two then waited the whole timeout and answered 504. (A
    hypervisor takes one call at a time: one stuck send holds all of its own.)"""
    stuck, other = HungDomain(), RecordingDomain()
    domains = {"one": stuck, "two": other}
    sender = GuestSender(
        lambda hypervisor: Connection(domains[hypervisor]), None, False, timeout=5.0
    )
    on_one, on_two = replace(GUEST, hypervisor="one"), replace(GUEST, hypervisor="two")
    entered = threading.Semaphore(0)
    stuck.injectNMI = lambda flags: (entered.release(), stuck.release.wait(), 0)[-1]
    senders = [  # it answers once released: no 504 within the 5 s
        threading.Thread(target=sender.send, args=(on_one, SendRequest("nmi"), Identity("op")))
    ]
    try:
        for each in senders:
            each.start()
        for _ in senders:
            assert entered.acquire(timeout=5.0), "the stuck sends never reached hypervisor one"
        answer = sender.send(on_two, SendRequest("nmi"), Identity("op"))
        assert stuck.release.is_set() is False  # answered while that one still hangs
        assert (answer["guest"], other.nmis) == ("hung", 1)
    finally:
        stuck.release.set()
        for each in senders:
            each.join(10.0)


def test_a_libvirt_error_of_a_send_never_shows_the_uris_credentials():
    class Leaking:
        def injectNMI(self, flags: int) -> int:  # noqa: N802
            error = libvirt.libvirtError("refused")
            message = "no key at /secret/pki/clientkey.pem"
            error.err = (libvirt.VIR_ERR_INTERNAL_ERROR, 0, message, 0, "", None, None, 0, 0)
            raise error

    sender = GuestSender(
        lambda _hypervisor: Connection(Leaking()),
        None,
        False,
        uris=lambda _hypervisor: "qemu+tls://hv/system?pkipath=/secret/pki",
    )
    with pytest.raises(SerialConsoleError) as raised:
        sender.send(GUEST, SendRequest("nmi"), Identity("op"))
    assert "/secret/pki" not in raised.value.reason()
    assert "no key at ***/clientkey.pem" in raised.value.reason()
