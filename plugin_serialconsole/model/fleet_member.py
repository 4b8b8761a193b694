"""One hypervisor of the fleet, and what the fleet keeps of it between requests.

A member is its guests (one ``GuestModel``), read through its own shared connection on its
own ``HypervisorCalls`` threads. Its last good listing is kept, with when it was read, so
its guests are still known while a listing is late: as last listed while the member is
connected and its calls have not timed out, else ``unreachable``. Its listing in flight is
shared by every request that asks meanwhile, never two at once; once that listing has been
in flight for longer than the fleet's bound, the member is late, and nobody waits on it
(nor asks it anything more) until the listing returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

import libvirt

from plugin_serialconsole import i18n
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.model.guests import Guest, GuestModel
from plugin_serialconsole.model.hypervisor_calls import HypervisorCalls

UNREACHABLE = "unreachable"  # the state of a guest whose hypervisor does not answer
LATE = "late"  # a listing in flight for longer than the fleet's answer bound
TIMED_OUT = "timed-out"  # ... for longer than its call bound: the hypervisor does not answer


@dataclass
class Member:
    """One hypervisor of the fleet: its name, URI, guests and connection."""

    name: str
    uri: str
    guests: GuestModel
    connection: Callable[[], Any]  # the live connection, or libvirtError at once
    reason: Callable[[], str]  # why it has no connection (redacted)
    shown_uri: str  # redacted
    calls: HypervisorCalls
    last: list[Guest] | None = None  # its last good listing
    listed_at: float | None = None  # when it was read (time.time())
    listing: Future | None = None  # the listing in flight, shared by requests
    listing_since: float = 0.0  # when it was asked (time.monotonic())
    failure_logged: str = ""  # the last failure logged: each is logged once, not per request
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def asked_listing(self) -> Future:
        """The listing in flight, or a new one: never two at once."""
        with self._lock:
            if self.listing is None or self.listing.done():
                self.listing = self.calls.submit(self._list_and_keep)
                self.listing_since = time.monotonic()
            return self.listing

    def hung(self, bound: float) -> bool:
        """Whether the listing has been in flight for longer than ``bound`` seconds."""
        with self._lock:
            listing, since = self.listing, self.listing_since
        return listing is not None and not listing.done() and time.monotonic() - since > bound

    def lateness(self, bound: float, call_bound: float) -> str | None:
        """``TIMED_OUT`` while the listing has been in flight for longer than
        ``call_bound`` seconds, ``LATE`` for longer than ``bound``, else None."""
        if self.hung(call_bound):
            return TIMED_OUT
        return LATE if self.hung(bound) else None

    def _list_and_keep(self) -> list[Guest]:
        """The guests, kept as the last good listing (also when they come after the
        request that asked stopped waiting)."""
        listed_at = time.time()
        guests = self.guests.list()
        with self._lock:
            self.last, self.listed_at = guests, listed_at
        return guests

    def last_listed(self, ident: str | None = None) -> list[Guest]:
        """The guests of the last good listing (those ``ident`` names, if given) in their
        states then, each with when it was listed; none before the first listing."""
        with self._lock:
            last, listed_at = self.last, self.listed_at
        return [
            replace(guest, listed_at=listed_at)
            for guest in last or []
            if ident is None or _named(guest, ident)
        ]

    def unreachable(self, ident: str | None = None) -> list[Guest]:
        """``last_listed``, each ``unreachable``."""
        return [replace(guest, state=UNREACHABLE) for guest in self.last_listed(ident)]

    def connected(self) -> bool:
        """Whether the member has a live connection now."""
        try:
            self.connection()
        except libvirt.libvirtError:
            return False
        return True

    def unavailable(self, reason: str) -> SerialConsoleError:
        """The 503 of a request the member cannot answer, for ``reason``."""
        return SerialConsoleError(
            i18n.HYPERVISOR_UNAVAILABLE,
            503,
            hypervisor=self.name,
            uri=self.shown_uri,
            reason=reason,
        )


def _named(guest: Guest, ident: str) -> bool:
    """Whether ``ident`` is ``guest``'s name or UUID (a UUID in any case)."""
    return ident in (guest.name, guest.uuid) or ident.lower() == guest.uuid.lower()
