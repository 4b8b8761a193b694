"""The fleet (issue 16): guests of every hypervisor in one place; a hypervisor that does
not answer never holds a request beyond the bound, and its guests stay listed: as last
listed while it is connected and only late, ``unreachable`` once it has no connection or
its listing timed out; a name or UUID on two hypervisors is ambiguous."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import wait
from dataclasses import replace

import libvirt
import pytest

from plugin_serialconsole.errors import SerialConsoleError, not_found
from plugin_serialconsole.model.fleet import Fleet, Member, not_asked
from plugin_serialconsole.model.guests import ConsoleDevice, Guest, LibvirtGuests
from plugin_serialconsole.model.hypervisor_calls import HypervisorCalls, NoAnswer
from tests.integration.helpers import wait_for

BOUND = 0.2
CALL_BOUND = 0.5  # a listing in flight for longer has timed out
SERIAL = (ConsoleDevice("serial0", "pty"),)
UUID = "00000000-0000-4000-8000-000000000001"


def guest(name: str, hypervisor: str, uuid: str = UUID) -> Guest:
    return Guest(name, uuid, "running", SERIAL, hypervisor, 1)


class Guests:
    """One hypervisor's guests; ``hang`` holds every call until it is set."""

    def __init__(self, *guests: Guest) -> None:
        self.guests = list(guests)
        self.hang: threading.Event | None = None
        self.connected = True
        self.lookups = 0
        self.resumed = threading.Event()

    def _wait(self) -> None:
        if self.hang is not None:
            assert self.hang.wait(10), "never released"

    def list(self) -> list[Guest]:
        self._wait()
        return list(self.guests)

    def lookup(self, ident: str) -> Guest:
        self.lookups += 1
        self._wait()
        for each in self.guests:
            if ident in (each.name, each.uuid):
                return each
        raise not_found(ident)

    def start_paused(self, guest: Guest) -> Guest:
        self._wait()
        return replace(guest, state="paused")

    def resume(self, guest: Guest) -> Guest:
        self._wait()
        self.resumed.set()
        return replace(guest, state="running")

    def connection(self) -> object:
        if not self.connected:
            raise libvirt.libvirtError("not connected")
        return object()


@pytest.fixture
def fleet() -> Iterator[tuple[Fleet, dict[str, Guests]]]:
    models = {
        "one": Guests(guest("web", "one"), guest("twin", "one", "u-1")),
        "two": Guests(guest("db", "two", "u-2"), guest("twin", "two", "u-3")),
    }
    members = [
        Member(
            name,
            "test:///x",
            model,
            model.connection,
            lambda: "link down",
            f"qemu+tls://{name}/system",
            HypervisorCalls(name),
        )  # fmt: skip
        for name, model in models.items()
    ]
    made = Fleet(members, bound=BOUND, call_bound=CALL_BOUND)
    yield made, models
    for model in models.values():
        if model.hang is not None:
            model.hang.set()
    made.stop()


def names(guests: list[Guest]) -> list[tuple[str, str, str]]:
    return [(g.hypervisor, g.name, g.state) for g in guests]


def test_the_list_has_every_hypervisors_guests(fleet):
    made, _ = fleet
    assert names(made.list()) == [
        ("one", "web", "running"),
        ("one", "twin", "running"),
        ("two", "db", "running"),
        ("two", "twin", "running"),
    ]
    assert names(made.list("two")) == [("two", "db", "running"), ("two", "twin", "running")]


def timed_out(made: Fleet, hypervisor: str) -> None:
    """Wait until ``hypervisor``'s listing in flight has timed out."""
    wait_for(lambda: made.listing(hypervisor)[1] == "timed-out", 5, "the listing to time out")


def test_a_connected_hypervisor_whose_listing_is_late_is_listed_as_last_listed(fleet):
    """A healthy hypervisor slower than the bound had its guests listed unreachable, and
    refused, though it was connected."""
    made, models = fleet
    made.list()  # a good listing of each, kept
    models["two"].hang = threading.Event()
    listed = made.list()
    assert not models["two"].hang.is_set()  # answered while the listing is outstanding
    assert names(listed) == [
        ("one", "web", "running"),
        ("one", "twin", "running"),
        ("two", "db", "running"),
        ("two", "twin", "running"),
    ]
    listed_at = made.listing("two")[0]
    assert listed_at is not None
    assert [g.listed_at for g in listed] == [None, None, listed_at, listed_at]
    assert listed[2].as_json()["listed_at"].startswith("20")
    assert "listed_at" not in listed[0].as_json()
    assert made.listing("two") == (listed_at, "late")
    db = made.lookup("db")
    assert (db.state, db.listed_at) == ("running", listed_at)
    assert not models["two"].hang.is_set()
    models["two"].hang.set()  # it answers the action's own call: it can be opened
    now = made.fresh(db)
    assert (now.name, now.state, now.listed_at) == ("db", "running", None)


def test_a_guest_renamed_since_the_last_listing_is_not_acted_on_by_its_old_name(fleet):
    """Rights are checked on the name a late hypervisor last listed; the action then
    reached the guest by UUID, whatever its name is now (a rule on ``db`` reached
    ``secret``)."""
    made, models = fleet
    made.list()
    models["two"].hang = threading.Event()
    made.list()  # late now: the lookup gives db as last listed
    db = made.lookup("db")
    assert db.listed_at is not None
    models["two"].guests[0] = replace(db, name="secret", listed_at=None)
    models["two"].hang.set()
    with pytest.raises(SerialConsoleError) as refused:
        made.fresh(db)
    assert (refused.value.status, refused.value.code) == (404, "SCONS0001E")


def test_what_the_host_keeps_of_a_renamed_guest_is_not_found_by_its_old_name(fleet):
    """Transcripts, logs, recordings and sessions are found by UUID: with rights checked on
    the name a late hypervisor last listed, they were another guest's."""
    made, models = fleet
    made.list()
    models["two"].hang = threading.Event()
    made.list()
    db = made.lookup("db")
    models["two"].guests[0] = replace(db, name="secret", listed_at=None)
    models["two"].hang.set()
    with pytest.raises(SerialConsoleError) as refused:
        made.current(db)
    assert refused.value.status == 404
    gone = replace(db, state="unreachable")  # its hypervisor does not answer: as last known
    assert made.current(gone) is gone


def test_a_lookup_that_gets_no_answer_gives_the_guest_unreachable(fleet):
    """Not a late listing but a lookup asked and unanswered (a link gone, not yet
    known): the guest as last listed was acted on, each action waiting the call bound."""
    made, models = fleet
    made.list()
    models["two"].hang = threading.Event()
    db = made.lookup("db")
    assert db.state == "unreachable"
    with pytest.raises(SerialConsoleError) as refused:
        made.fresh(db)
    assert (refused.value.status, refused.value.code) == (503, "SCONS0081E")


def test_a_late_hypervisor_never_listed_lists_nothing_yet_and_says_so(fleet):
    made, models = fleet
    models["two"].hang = threading.Event()
    assert names(made.list()) == [("one", "web", "running"), ("one", "twin", "running")]
    assert made.listing("two") == (None, "late")
    assert made.listing("one")[1] is None


def test_a_hypervisor_whose_listing_timed_out_is_listed_unreachable(fleet):
    made, models = fleet
    made.list()
    models["two"].hang = threading.Event()
    made.list()
    timed_out(made, "two")
    listed = made.list()
    assert names(listed)[2:] == [("two", "db", "unreachable"), ("two", "twin", "unreachable")]
    assert listed[2].consoles == SERIAL  # its last-known consoles
    assert made.lookup("db").state == "unreachable"


def test_a_disconnected_hypervisor_is_listed_unreachable(fleet):
    made, models = fleet
    made.list()
    models["two"].hang = threading.Event()
    models["two"].connected = False
    assert names(made.list())[2:] == [("two", "db", "unreachable"), ("two", "twin", "unreachable")]
    assert made.lookup("db").state == "unreachable"


def test_many_requests_on_a_hanging_hypervisor_share_one_listing(fleet):
    made, models = fleet
    models["two"].hang = threading.Event()
    for _ in range(5):
        made.list()
    assert made._members["two"].calls._threads == 1  # one listing in flight, not five


def test_a_name_on_two_hypervisors_is_ambiguous_and_names_them(fleet):
    made, _ = fleet
    with pytest.raises(SerialConsoleError) as ambiguous:
        made.lookup("twin")
    assert (ambiguous.value.status, ambiguous.value.code) == (409, "SCONS0080E")
    assert "one, two" in ambiguous.value.reason()
    assert made.lookup("twin", "two").uuid == "u-3"
    assert made.lookup("u-2").hypervisor == "two"


def test_the_same_uuid_on_two_hypervisors_is_ambiguous(fleet):
    made, models = fleet
    models["two"].guests.append(guest("web-copy", "two"))
    with pytest.raises(SerialConsoleError) as ambiguous:
        made.lookup(UUID)
    assert ambiguous.value.code == "SCONS0080E"
    assert made.lookup(UUID, "two").name == "web-copy"


def test_an_unknown_hypervisor_is_404(fleet):
    made, _ = fleet
    for call in (lambda: made.lookup("web", "three"), lambda: made.list("three")):
        with pytest.raises(SerialConsoleError) as unknown:
            call()
        assert (unknown.value.status, unknown.value.code) == (404, "SCONS0082E")


def test_acting_on_a_guest_of_an_unconnected_hypervisor_is_503_naming_it(fleet):
    made, models = fleet
    made.fresh(guest("db", "two"))
    models["two"].connected = False
    with pytest.raises(SerialConsoleError) as refused:
        made.fresh(replace(guest("db", "two"), state="unreachable"))
    assert (refused.value.status, refused.value.code) == (503, "SCONS0081E")
    assert "two (qemu+tls://two/system) is not connected: link down" in refused.value.reason()


def test_a_hypervisor_never_listed_and_not_answering_is_503(fleet):
    made, models = fleet
    models["two"].hang = threading.Event()
    models["two"].connected = False
    with pytest.raises(SerialConsoleError) as refused:
        made.list("two")
    assert (refused.value.status, refused.value.code) == (503, "SCONS0081E")
    assert names(made.list()) == [("one", "web", "running"), ("one", "twin", "running")]


def test_a_listing_that_answers_after_the_bound_is_kept_for_the_next_request(fleet):
    made, models = fleet
    models["two"].hang = threading.Event()
    assert names(made.list()) == [("one", "web", "running"), ("one", "twin", "running")]
    late = made._members["two"].listing
    models["two"].hang.set()
    late.result(timeout=5)  # it answers, after the request stopped waiting
    models["two"].hang = threading.Event()  # and hangs again
    db = next(g for g in made.list() if g.name == "db")
    assert (db.state, db.listed_at) == ("running", made.listing("two")[0])


def test_once_a_listing_hangs_past_the_bound_nothing_more_waits_on_that_hypervisor(fleet):
    made, models = fleet
    made.list()
    models["two"].hang = threading.Event()
    made.list()  # waits the bound once: two hangs
    asked = models["two"].lookups
    assert made.lookup("web").hypervisor == "one"  # two's last listing has no web
    assert made.lookup("db").listed_at is not None  # as last listed
    assert models["two"].lookups == asked  # two was not asked: nothing queues behind it
    models["two"].hang.set()
    made._members["two"].listing.result(timeout=5)
    assert made.lookup("db").listed_at is None  # answering again: asked again
    assert models["two"].lookups == asked + 1


def test_a_call_not_made_is_never_waited_for():
    """A lookup on a hypervisor whose listing is late is not made, yet its future only
    cancelled kept ``wait`` waiting the whole bound: every open on that hypervisor, and
    every unqualified lookup, took 0.75 s more."""
    done, pending = wait([not_asked()], timeout=0)
    assert (len(done), pending) == (1, set())


def test_a_guest_listed_unreachable_is_refused_though_its_connection_object_lives(fleet):
    """Its hypervisor hangs with the connection still open: POST .../start went on to call
    libvirt on the request thread."""
    made, models = fleet
    made.list()
    models["two"].hang = threading.Event()
    made.list()
    timed_out(made, "two")
    db = made.lookup("db")
    assert db.state == "unreachable"
    with pytest.raises(SerialConsoleError) as refused:
        made.fresh(db)
    assert (refused.value.status, refused.value.code) == (503, "SCONS0081E")
    assert "two (qemu+tls://two/system) is not connected" in refused.value.reason()
    assert f"no answer within {CALL_BOUND:g} s" in refused.value.reason()  # not the 0.75


def test_starting_a_guest_on_a_hypervisor_that_hangs_answers_504_at_the_bound(fleet):
    made, models = fleet
    made.call_bound = BOUND
    models["two"].hang = threading.Event()
    for act in (made.start_paused, made.resume):
        with pytest.raises(SerialConsoleError) as late:
            act(guest("db", "two", "u-2"))
        assert (late.value.status, late.value.code) == (504, "SCONS0083E")
        assert not models["two"].hang.is_set()  # answered while the call still hangs
    assert made.start_paused(guest("web", "one")).state == "paused"  # one is not held


def test_a_guest_whose_start_answers_after_the_request_gave_up_does_not_stay_paused(fleet):
    made, models = fleet
    made.call_bound = BOUND
    models["two"].hang = threading.Event()
    with pytest.raises(SerialConsoleError) as late:
        made.start_paused(guest("db", "two", "u-2"))
    assert late.value.status == 504
    assert not models["two"].resumed.is_set()
    models["two"].hang.set()  # the hypervisor answers at last: the guest starts, paused
    assert models["two"].resumed.wait(5), "the late-started guest was left paused"


def test_a_libvirt_error_never_shows_the_uris_credentials(fleet, caplog):
    """A libvirtError naming the pkipath went into the 503's reason and the log."""
    made, models = fleet
    member = made._members["two"]
    member.uri = "qemu+tls://two/system?no_tty=1&pkipath=/secret/pki"
    leak = libvirt.libvirtError("no /secret/pki/clientcert.pem for 10.1.1.21")

    def fails() -> list[Guest]:
        raise leak

    models["two"].list = fails
    for _ in range(3):
        with pytest.raises(SerialConsoleError) as refused:
            made.list("two")
        assert refused.value.status == 503
        assert "/secret/pki" not in refused.value.reason()
        assert "no ***/clientcert.pem for 10.1.1.21" in refused.value.reason()
    logged = [
        r.getMessage() for r in caplog.records if r.name == "plugin_serialconsole.model.fleet"
    ]
    assert logged == ["hypervisor two: libvirtError: no ***/clientcert.pem for 10.1.1.21"]


def test_listing_a_hypervisor_whose_list_call_fails_is_503_without_its_credentials():
    class Refusing:
        def listAllDomains(self) -> list:  # noqa: N802 (libvirt's name)
            error = libvirt.libvirtError("refused")
            message = "cannot read /secret/pki/clientkey.pem"
            error.err = (libvirt.VIR_ERR_SYSTEM_ERROR, 0, message, 0, "", None, None, 0, 0)
            raise error

    uri = "qemu+tls://hv/system?pkipath=/secret/pki"
    with pytest.raises(SerialConsoleError) as refused:
        LibvirtGuests(uri, Refusing, "hv").list()
    assert refused.value.status == 503
    assert "/secret/pki" not in refused.value.reason()


def test_a_stopped_hypervisors_calls_never_start_a_worker_again():
    calls = HypervisorCalls("gone")
    assert calls.submit(lambda: 1).result(timeout=5) == 1
    calls.stop()
    ran = threading.Event()
    late = calls.submit(ran.set)
    with pytest.raises(RuntimeError):
        late.result(timeout=5)
    assert not ran.is_set()


def test_a_resume_queued_behind_stuck_calls_still_runs_after_the_504():
    """A resume cancelled while queued left a guest started paused for good."""
    calls = HypervisorCalls("busy", workers=1)
    stuck = threading.Event()
    calls.submit(stuck.wait)  # the only worker, held
    resumed, late = threading.Event(), threading.Event()
    with pytest.raises(NoAnswer):
        calls.answer(resumed.set, BOUND, late=lambda _result: late.set())
    assert not resumed.is_set()
    stuck.set()
    assert late.wait(5), "the queued resume never ran"
    assert resumed.is_set()
    calls.stop()
