"""Keeps a capture on the console devices of every running guest the policy selects.

libvirt's lifecycle events on each hypervisor's shared connection (STARTED, RESUMED;
registered again on each new connection) start a capture the moment a guest starts; a
check of all guests (of every hypervisor) at start and every
``RECHECK`` seconds starts those the events missed (guests running before the host, a
reconnected connection, a capture that ended while its guest runs on: its console taken
by another client is taken back, without force, once that client has left: tried
after ``RECHECK`` seconds, then twice as long each time up to ``BACKOFF_MAX``, logged once
when the wait starts and once when it ends). Captures end by themselves when their guest
stops. libvirt calls its event callbacks on its event
thread, which must not wait: they only queue the guest for this keeper's thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import libvirt

from plugin_serialconsole import i18n
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.hypervisor_uris import redact_message
from plugin_serialconsole.model.capture_policy import CapturePolicy
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.fleet import Fleet
from plugin_serialconsole.model.guests import Guest

log = logging.getLogger(__name__)

RECHECK = 5.0
BACKOFF_MAX = 20.0  # seconds at most between tries to capture a console held by another
STARTERS = 8  # captures started at once when many guests need one (host start)
_STARTS = (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_RESUMED)
_ALL = ""  # a queue entry: check every guest

Key = tuple[str, str]  # (hypervisor, guest UUID): a copied guest has the original's UUID


class Waiting:
    """Guests whose consoles could not all be captured, and when to try each again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[Key, tuple[float, float]] = {}  # guest: (when, delay)

    def due(self, guest: Guest, now: float) -> bool:
        with self._lock:
            return now >= self._due.get(_key(guest), (0.0, 0.0))[0]

    def failed(self, guest: Guest, now: float) -> None:
        with self._lock:
            delay = self._due.get(_key(guest), (0.0, 0.0))[1]
            wait = min(2 * delay or RECHECK, BACKOFF_MAX)
            self._due[_key(guest)] = (now + wait, wait)
        if delay:
            log.debug("captures: %s still not captured", guest.name)
        else:
            log.info(
                "captures: a console of %s is not free (held by another client?); "
                "trying again, at most every %g s",
                guest.name, BACKOFF_MAX,
            )  # fmt: skip

    def captured(self, guest: Guest) -> None:
        with self._lock:
            waited = self._due.pop(_key(guest), None) is not None
        if waited:
            log.info("captures: the consoles of %s are captured again", guest.name)

    def keep_only(self, guests: list[Guest]) -> None:
        """Forget the guests not among ``guests`` (stopped, or no longer captured)."""
        keys = {_key(guest) for guest in guests}
        with self._lock:
            for key in set(self._due) - keys:
                del self._due[key]


def _key(guest: Guest) -> Key:
    return guest.hypervisor, guest.uuid


class CaptureKeeper:
    """Starts captures; its thread runs from ``start`` until ``stop``."""

    def __init__(
        self,
        guests: Fleet,
        sessions: SessionManager,
        policy: CapturePolicy,
        connections: Mapping[str, Callable[[], Any]],
    ) -> None:
        self.guests = guests
        self.sessions = sessions
        self.policy = policy
        self._connections = connections  # each hypervisor's, by name
        self._queue: queue.Queue[tuple[str, str, bool] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._registered: dict[str, tuple[Any, int]] = {}  # name: (connection, callback)
        self._waiting = Waiting()

    def start_guest(self, guest: Guest) -> tuple[Guest, list[str]]:
        """Start shut-off ``guest`` so that its captures hold its very first byte: paused,
        then captured, then resumed. (The guest as it is then, the devices captured.)"""
        if guest.running:
            raise SerialConsoleError(i18n.ALREADY_RUNNING, 409, guest=guest.name)
        paused = self.guests.start_paused(guest)
        captured: list[str] = []
        try:
            if self.policy.captures(guest.hypervisor, guest.name):
                captured = self.sessions.capture(paused, booted=True)
        finally:  # whatever failed while capturing, the guest must not stay paused
            resumed = self.guests.resume(paused)
        return resumed, captured

    def start(self) -> None:
        if not self.policy.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="captures", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None
        self._deregister()

    # libvirt's event thread --------------------------------------------------

    def _lifecycle(self, _conn, domain, event: int, detail: int, hypervisor: str) -> None:
        if event in _STARTS:
            booted = (event, detail) == (
                libvirt.VIR_DOMAIN_EVENT_STARTED,
                libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED,
            )
            self._queue.put((hypervisor, domain.UUIDString(), booted))

    # the keeper's thread -----------------------------------------------------

    def _run(self) -> None:
        self._queue.put((_ALL, _ALL, False))
        while True:
            try:
                item = self._queue.get(timeout=RECHECK)
            except queue.Empty:
                item = (_ALL, _ALL, False)
            if item is None:
                return
            try:
                self._register()
                self._capture(*item)
            except SerialConsoleError as error:
                log.info("captures: %s", error.reason())
            except libvirt.libvirtError as error:
                log.info("captures: libvirt: %s", self._redacted(error))
            except Exception:
                log.exception("captures: checking the guests failed")

    def _register(self) -> None:
        """Follow the lifecycle events of each hypervisor's shared connection: again on a
        new one (a reconnect), then check every guest (events may have been missed)."""
        for name, connection in self._connections.items():
            try:
                conn = connection()
            except libvirt.libvirtError:
                continue  # not connected: registered once it is
            registered = self._registered.get(name)
            if registered is not None and registered[0] is conn:
                continue
            self._deregister(name)
            callback = conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, name
            )
            self._registered[name] = (conn, callback)
            if registered is not None:
                self._queue.put((_ALL, _ALL, False))

    def _deregister(self, name: str | None = None) -> None:
        """Stop following ``name``'s events (every hypervisor's without a name)."""
        for each in [name] if name is not None else list(self._registered):
            conn, callback = self._registered.pop(each, (None, None))
            if conn is None:
                continue
            try:
                conn.domainEventDeregisterAny(callback)
            except libvirt.libvirtError as error:
                log.debug("captures: deregistering: %s", self._redacted(error))

    def _redacted(self, error: libvirt.libvirtError) -> str:
        """libvirt's message, without the credentials of any hypervisor's URI."""
        message = error.get_error_message() or str(error)
        for uri in self.guests.uris.values():
            message = redact_message(message, uri)
        return message

    def _capture(self, hypervisor: str, guest_uuid: str, booted: bool) -> None:
        guests = (
            self.guests.list()
            if guest_uuid == _ALL
            else [self.guests.lookup(guest_uuid, hypervisor)]
        )
        wanted = [
            guest
            for guest in guests
            if guest.running
            and guest.consoles
            and self.policy.captures(guest.hypervisor, guest.name)
        ]
        if guest_uuid == _ALL:  # an event (a start) is tried at once, a recheck when due
            self._waiting.keep_only(wanted)
            now = time.monotonic()
            wanted = [guest for guest in wanted if self._waiting.due(guest, now)]
        if len(wanted) <= 1:
            for guest in wanted:
                self._capture_guest(guest, booted)
            return
        # Console processes start in parallel: each waits a moment for its console.
        with ThreadPoolExecutor(STARTERS, thread_name_prefix="capture-start") as starters:
            list(starters.map(lambda guest: self._capture_guest(guest, booted), wanted))

    def _capture_guest(self, guest: Guest, booted: bool) -> None:
        if len(self.sessions.capture(guest, booted)) < len(guest.consoles):
            self._waiting.failed(guest, time.monotonic())
        else:
            self._waiting.captured(guest)
