"""The guests of every hypervisor, in one place: one ``GuestModel`` per hypervisor, each
read through that hypervisor's own shared connection.

A request never waits long on a hypervisor: every hypervisor is asked in parallel (on
its own ``HypervisorCalls`` threads) and waited for at most ``ANSWER_BOUND``. One that has
not answered by then is late, not unreachable: while it is connected and its listing has
been in flight for less than ``call_bound`` (the bound of any call to it), its guests are
listed as it last listed them, in their states then and with when that was
(``listed_at``), and they can be acted on (the action waits on its own bound). Only a
hypervisor without a connection, whose listing failed or has timed out, has its last
listed guests shown ``unreachable``, not vanished. One that is late is not waited on
again until its listing returns (see ``fleet_member``).

A UUID finds a guest on any hypervisor; a name (or UUID: a copied definition) on two is
ambiguous, 409, unless the hypervisor is given (``candidates`` are all of them, for the
caller to drop those the operator may not view before ``one_of`` picks the one). A call
for one guest (start, resume, a key sent) runs on its hypervisor's ``HypervisorCalls``
too, waited for at most ``call_bound``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future, wait
from typing import Any, TypeVar

import libvirt

from plugin_serialconsole import i18n
from plugin_serialconsole.consoles import is_mock_uri
from plugin_serialconsole.errors import SerialConsoleError, not_found
from plugin_serialconsole.hypervisor_uris import redact_message
from plugin_serialconsole.model.fleet_member import UNREACHABLE, Member
from plugin_serialconsole.model.guests import Guest, make_guest_model
from plugin_serialconsole.model.hypervisor_calls import HypervisorCalls, NoAnswer

log = logging.getLogger(__name__)
T = TypeVar("T")

ANSWER_BOUND = 0.75  # seconds a request waits for the hypervisors' answers
CALL_BOUND = 15.0  # seconds a request waits for a call on one guest (start, resume)


def members_of(hypervisors: Any) -> list[Member]:
    """The fleet of the host's ``Hypervisors`` (see ``hookspecs.Host.hypervisors``)."""
    members = []
    for name in hypervisors.names():
        connection = hypervisors.get(name)
        members.append(
            Member(
                name,
                connection.uri,
                make_guest_model(connection.uri, connection.get, name),
                connection.get,
                lambda c=connection: c.state().reason or c.state().state,
                connection.state().uri,
                HypervisorCalls(name),
            )
        )
    return members


class Fleet:
    """Guests across hypervisors (``members``, in the operator's order)."""

    def __init__(
        self, members: list[Member], bound: float = ANSWER_BOUND, call_bound: float = CALL_BOUND
    ) -> None:
        self._members = {member.name: member for member in members}
        self.bound = bound
        self.call_bound = call_bound

    @property
    def uris(self) -> Mapping[str, str]:
        """Each hypervisor's libvirt URI (credentials included: never shown)."""
        return {name: member.uri for name, member in self._members.items()}

    def connection(self, hypervisor: str) -> Any:
        """``hypervisor``'s live shared connection; libvirtError at once if none."""
        return self._member(hypervisor).connection()

    def names(self) -> list[str]:
        return list(self._members)

    def is_mock(self, hypervisor: str) -> bool:
        """Whether ``hypervisor``'s guests have simulated consoles (the mock model)."""
        return is_mock_uri(self._member(hypervisor).uri)

    def calls(self, hypervisor: str) -> HypervisorCalls:
        """The threads on which calls to ``hypervisor`` are made (see ``call``)."""
        return self._member(hypervisor).calls

    def stop(self) -> None:
        for member in self._members.values():
            member.calls.stop()

    def _member(self, name: str) -> Member:
        member = self._members.get(name)
        if member is None:
            raise SerialConsoleError(i18n.NO_SUCH_HYPERVISOR, 404, hypervisor=name)
        return member

    def _selected(self, hypervisor: str | None) -> list[Member]:
        return list(self._members.values()) if hypervisor is None else [self._member(hypervisor)]

    # listing ------------------------------------------------------------------

    def list(self, hypervisor: str | None = None) -> list[Guest]:
        """Every guest (of ``hypervisor``, if given): those of hypervisors that answered
        in time as they are, the others' as last listed: in their states then while
        only late, else ``unreachable`` (see ``_last_known``). 503 when no hypervisor
        answered and none was ever listed."""
        members = self._selected(hypervisor)
        asked = {member.name: member.asked_listing() for member in members}
        hung = {member.name for member in members if member.hung(self.bound)}
        wait([f for name, f in asked.items() if name not in hung], timeout=self.bound)
        guests: list[Guest] = []
        failures: list[SerialConsoleError] = []
        for member in members:
            listed, failure = self._listed(member, asked[member.name])
            guests += listed
            if failure is not None:
                failures.append(failure)
        if (
            failures
            and len(failures) == len(members)
            and all(member.last is None for member in members)
        ):
            raise failures[0]
        return guests

    def _listed(
        self, member: Member, future: Future
    ) -> tuple[list[Guest], SerialConsoleError | None]:
        if future.done() and future.exception() is None:
            return future.result(), None
        failure = self._failure(member, future)
        return self._last_known(member, future), failure

    def _last_known(self, member: Member, future: Future, ident: str | None = None) -> list[Guest]:
        """``member``'s last listed guests (named ``ident``, if given) when its answer
        (``future``) did not come in time: in their states then while it is only late
        (connected, no error, its listing not timed out), else ``unreachable``."""
        failed = future.done() and not future.cancelled() and future.exception() is not None
        if failed or member.hung(self.call_bound) or not member.connected():
            return member.unreachable(ident)
        return member.last_listed(ident)

    def _failure(self, member: Member, future: Future) -> SerialConsoleError:
        """Why ``member`` did not answer: not connected, its model's error, or no answer
        in time."""
        error = future.exception() if future.done() and not future.cancelled() else None
        if not member.connected():
            return member.unavailable(member.reason())
        if isinstance(error, SerialConsoleError):
            return error
        if error is not None:  # not the model's: a libvirt error it let through, or a bug
            reason = redact_message(_message(error), member.uri)
            if reason != member.failure_logged:
                member.failure_logged = reason
                log.warning("hypervisor %s: %s: %s", member.name, type(error).__name__, reason)
            return member.unavailable(reason)
        return member.unavailable(self._silence(member))

    def _silence(self, member: Member) -> str:
        """How long ``member`` has not answered: past the call bound once its listing
        timed out (then its guests are unreachable), else past the request's bound."""
        waited = self.call_bound if member.hung(self.call_bound) else self.bound
        return f"no answer within {waited:g} s"

    def last_listed(self, hypervisor: str) -> list[Guest] | None:
        """``hypervisor``'s last good listing, without asking it; None before the first."""
        return self._member(hypervisor).last

    def listing(self, hypervisor: str) -> tuple[float | None, str | None]:
        """When ``hypervisor``'s last good listing was read (None before the first), and
        whether the one in flight is ``late`` or ``timed-out`` (None: neither)."""
        member = self._member(hypervisor)
        return member.listed_at, member.lateness(self.bound, self.call_bound)

    # lookup ---------------------------------------------------------------------

    def lookup(self, ident: str, hypervisor: str | None = None) -> Guest:
        """The guest named ``ident``, else with UUID ``ident``, on ``hypervisor`` or on any
        one: see ``candidates`` and ``one_of``."""
        return self.one_of(ident, self.candidates(ident, hypervisor))

    def candidates(self, ident: str, hypervisor: str | None = None) -> list[Guest]:
        """Every guest named ``ident``, else with UUID ``ident``, on ``hypervisor`` or on
        any one (never empty): 404 if none has it, 503 when none has it and one that may
        have it did not answer (and never listed its guests). A hypervisor that does not
        answer in time gives its guests as last listed (see ``list``); one whose listing
        is late is not asked."""
        members = self._selected(hypervisor)
        late = {m.name for m in members if m.hung(self.bound)}
        asked = {
            m.name: not_asked()
            if m.name in late
            else m.calls.submit(lambda m=m: m.guests.lookup(ident))
            for m in members
        }
        wait(asked.values(), timeout=self.bound)
        found: list[Guest] = []
        unknown: list[SerialConsoleError] = []
        for member in members:
            future = asked[member.name]
            future.cancel()  # still queued: nobody waits for it any more
            if future.done() and not future.cancelled() and future.exception() is None:
                found.append(future.result())
                continue
            error = future.exception() if future.done() and not future.cancelled() else None
            if isinstance(error, SerialConsoleError) and error.status == 404:
                continue
            if member.last is None:
                unknown.append(self._failure(member, future))
            if member.name in late:  # not asked: as last listed (see ``fresh``)
                found += self._last_known(member, future, ident)
            else:  # asked and silent, like one whose link is gone and not yet known
                found += member.unreachable(ident)
        if found:
            return found
        if unknown:
            raise unknown[0]
        raise not_found(ident)

    @staticmethod
    def one_of(ident: str, guests: list[Guest]) -> Guest:
        """The one guest of ``guests`` (those ``ident`` names that the operator may view);
        404 for none, 409 listing their hypervisors for two or more."""
        if len(guests) > 1:
            where = ", ".join(guest.hypervisor for guest in guests)
            raise SerialConsoleError(i18n.AMBIGUOUS_GUEST, 409, guest=ident, hypervisors=where)
        if not guests:
            raise not_found(ident)
        return guests[0]

    # acting on one guest ----------------------------------------------------------

    def fresh(self, guest: Guest) -> Guest:
        """``guest`` as its hypervisor has it now, to act on: 503 at once unless the
        hypervisor has a live connection and ``guest`` is not ``unreachable``; see
        ``current``."""
        member = self._member(guest.hypervisor)
        if not member.connected():
            raise member.unavailable(member.reason())
        if guest.state == UNREACHABLE:
            raise member.unavailable(self._silence(member))
        return self.current(guest)

    def current(self, guest: Guest) -> Guest:
        """``guest`` as its hypervisor has it now where it can be asked: one as last
        listed by a late hypervisor is looked up again by UUID, bounded by ``call_bound``
        (504). Its name may have gone to another guest since, which rights checked on the
        old name must not reach (404), and its state may have changed. An unreachable
        one stays as last known (what the host keeps of it: logs, recordings)."""
        if guest.listed_at is None or guest.state == UNREACHABLE:
            return guest
        member = self._member(guest.hypervisor)
        now = self.call(guest, lambda: member.guests.lookup(guest.uuid))
        if (now.uuid, now.name) != (guest.uuid, guest.name):
            raise not_found(guest.name)
        return now

    def guest_stopped(self, guest: Guest) -> None:
        """A console process saw ``guest`` stop."""
        self._member(guest.hypervisor).guests.guest_stopped(guest.uuid)

    def start_paused(self, guest: Guest) -> Guest:
        """Start ``guest`` paused. If the hypervisor answers only after the request gave up
        (504), nobody would resume the guest: it is resumed then."""
        guests = self._member(guest.hypervisor).guests

        def resume_late(paused: Guest) -> None:
            log.warning("guest %s started after the request gave up: resuming it", guest.name)
            guests.resume(paused)

        return self.call(guest, lambda: guests.start_paused(guest), resume_late)

    def resume(self, guest: Guest) -> Guest:
        """Let paused ``guest`` run: the call is made even if the request gives up first."""
        guests = self._member(guest.hypervisor).guests

        def resumed_late(_guest: Guest) -> None:
            log.warning("guest %s resumed after the request gave up", guest.name)

        return self.call(guest, lambda: guests.resume(guest), resumed_late)

    def call(
        self, guest: Guest, call: Callable[[], T], late: Callable[[T], object] | None = None
    ) -> T:
        """``call``'s answer, made on ``guest``'s hypervisor's calls and waited for at most
        ``call_bound`` seconds: 504 with a code beyond (see ``HypervisorCalls.answer``)."""
        member = self._member(guest.hypervisor)
        try:
            return member.calls.answer(call, self.call_bound, late)
        except NoAnswer as error:
            log.warning("guest %s: %s", guest.name, error)
            raise SerialConsoleError(
                i18n.HYPERVISOR_TIMEOUT,
                504,
                hypervisor=member.name,
                guest=guest.name,
                seconds=f"{self.call_bound:g}",
            ) from None


def not_asked() -> Future:
    """The future of a call not made (to a hypervisor whose listing is late): cancelled
    and notified already, so ``wait`` counts it done and nobody waits for it (a future
    only cancelled is not done for ``wait``, which then waited its whole timeout)."""
    future: Future = Future()
    future.cancel()
    future.set_running_or_notify_cancel()
    return future


def _message(error: BaseException) -> str:
    if isinstance(error, libvirt.libvirtError):
        return error.get_error_message() or str(error)
    return str(error)
