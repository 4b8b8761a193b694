"""One hypervisor's shared libvirt connection, opened and re-opened in the background.

A request never waits for a hypervisor to answer a connect: it gets the connection there
is, or at once ``HypervisorUnavailable``. A thread per hypervisor opens the connection,
turns on libvirt's keepalive (so a silent peer is noticed), follows libvirt's close
callback, and after a failure tries again with a growing pause.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import libvirt

from plugin_serialconsole.hypervisor_uris import redact_message, redact_uri
from plugin_serialconsole.libvirtloop import KEEPALIVE, close_reason, start_event_thread

log = logging.getLogger(__name__)

CONNECTED, CONNECTING, UNREACHABLE = "connected", "connecting", "unreachable"
CONNECT_TIMEOUT = 10.0  # seconds a connect may take before the hypervisor shows unreachable
BACKOFF_FIRST = 1.0  # seconds before the first retry; doubled on each failure ...
BACKOFF_MAX = 30.0  # ... up to this
LIVENESS_INTERVAL = 1.0  # seconds between looks at whether libvirt closed the connection


def log_libvirt_errors(uris: Iterable[str] = ()) -> None:
    """Send libvirt's error reports to the log instead of raw onto stderr.

    Unless a handler is registered, libvirt prints every error on stderr as it is, guest
    names from requests included ("no domain with matching name ..."). Callers get the
    same error as an exception; the report goes to the log at DEBUG, escaped there, and
    without the credentials parameters of ``uris`` (libvirt names a key file it could
    not use).
    """
    libvirt.registerErrorHandler(_log_error, tuple(uris))


def _log_error(uris: tuple[str, ...] | None, error: tuple) -> None:
    message = str(error[2] if len(error) > 2 else error)
    for uri in uris or ():
        message = redact_message(message, uri)
    log.debug("libvirt: %s", message)


class HypervisorUnavailable(libvirt.libvirtError):
    """No connection to a hypervisor right now; raised at once, without trying."""

    def __init__(self, name: str, reason: str) -> None:
        Exception.__init__(self, f"hypervisor {name}: {reason}")  # not libvirt's last error
        self.err = (
            libvirt.VIR_ERR_NO_CONNECT,
            libvirt.VIR_FROM_NONE,
            f"hypervisor {name}: {reason}",
            libvirt.VIR_ERR_ERROR,
            None,
            None,
            None,
            0,
            0,
        )


@dataclass(frozen=True)
class HypervisorState:
    """What ``GET /hypervisors`` shows of one hypervisor."""

    name: str
    uri: str  # redacted: never its credentials parameters
    state: str  # CONNECTED, CONNECTING or UNREACHABLE
    reason: str  # why it is unreachable; "" otherwise
    since: float  # when it entered this state (seconds since the epoch)
    guests: int | None  # how many guests it has, when connected

    def as_json(self) -> dict[str, Any]:
        since = datetime.fromtimestamp(self.since, UTC).isoformat()
        return {**asdict(self), "since": since}


class HypervisorConnection:
    """Hands out the one live connection to ``uri``, kept by a background thread."""

    def __init__(
        self, name: str, uri: str, opener: Callable[[str], libvirt.virConnect] = libvirt.open
    ) -> None:
        self.name = name
        self.uri = uri
        self._opener = opener
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on each state change
        self._conn: libvirt.virConnect | None = None
        self._state, self._reason, self._since = CONNECTING, "", time.time()
        self._attempt_started = time.monotonic()
        self._guests: int | None = None
        self._lost = threading.Event()  # the connection broke, or stop() was called
        self._stopping = threading.Event()
        self._first_attempt = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[HypervisorState], None]] = []

    def add_listener(self, listener: Callable[[HypervisorState], None]) -> None:
        """Have ``listener(state)`` called on each change of this hypervisor's state. It
        runs on libvirt's event thread or on this connection's: it must not wait."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[HypervisorState], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"libvirt {self.name}", daemon=True)
        self._thread.start()

    def wait_first_attempt(self, timeout: float) -> bool:
        """Wait until the first connect succeeded or failed (at most ``timeout`` s)."""
        return self._first_attempt.wait(timeout)

    def wait_state(self, state: str, timeout: float) -> bool:
        """Wait until the connection is in ``state`` (at most ``timeout`` s); whether it is."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state == state, timeout)

    def stop(self) -> None:
        """Close the connection and end the thread (not waiting on a connect in progress)."""
        self._stopping.set()
        self._lost.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def get(self) -> libvirt.virConnect:
        """The live connection; ``HypervisorUnavailable`` at once if there is none."""
        with self._lock:
            conn, reason = self._conn, self._reason or self._state
        if conn is None:
            raise HypervisorUnavailable(self.name, reason)
        if not conn.isAlive():
            self._broke("connection lost")
            raise HypervisorUnavailable(self.name, "connection lost")
        return conn

    def state(self) -> HypervisorState:
        with self._lock:
            state, reason, since = self._state, self._reason, self._since
            waited = time.monotonic() - self._attempt_started
            guests = self._guests if state == CONNECTED else None
        if state == CONNECTING and waited > CONNECT_TIMEOUT:
            state, reason = UNREACHABLE, f"no answer within {CONNECT_TIMEOUT:g} s"
            since += CONNECT_TIMEOUT
        return HypervisorState(self.name, redact_uri(self.uri), state, reason, since, guests)

    def _run(self) -> None:
        delay = BACKOFF_FIRST
        while not self._stopping.is_set():
            conn = self._connect()
            self._first_attempt.set()
            if conn is None:
                self._stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_FIRST
            self._watch(conn)
            self._lost.clear()
            self._close(conn)

    def _watch(self, conn: libvirt.virConnect) -> None:
        """Until the connection is lost: whether libvirt closed it, every
        ``LIVENESS_INTERVAL`` s.

        When libvirt's keepalive closes a connection during a call another thread makes,
        the close callback is never called, and a call waiting behind it never returns and
        later crashes the process (measured, libvirt 9.0): so the connection is looked at
        without a call (``isAlive``), and no call is made here while others may use it
        (the plugin makes its calls to a hypervisor one at a time, ``HypervisorCalls``).
        """
        while not self._lost.wait(LIVENESS_INTERVAL):
            if not conn.isAlive():
                self._broke("connection lost")
                return

    def _connect(self) -> libvirt.virConnect | None:
        with self._lock:
            self._attempt_started = time.monotonic()
        try:
            start_event_thread()  # before connecting: keepalive and events need it
            conn = self._opener(self.uri)
        except libvirt.libvirtError as error:
            reason = redact_message(error.get_error_message() or str(error), self.uri)
            self._set(UNREACHABLE, reason)
            log.warning(
                "hypervisor %s (%s) unreachable: %s", self.name, redact_uri(self.uri), reason
            )
            return None
        try:
            KEEPALIVE.apply(conn)
            conn.registerCloseCallback(self._closed_by_libvirt, None)
        except libvirt.libvirtError as error:  # local drivers have neither
            message = redact_message(error.get_error_message() or str(error), self.uri)
            log.debug("hypervisor %s: %s", self.name, message)
        self._count_guests(conn)  # before anyone else may call on it
        with self._lock:
            self._conn = conn
        self._set(CONNECTED, "")
        log.info("connected to hypervisor %s (%s)", self.name, redact_uri(self.uri))
        return conn

    def _count_guests(self, conn: libvirt.virConnect) -> None:
        try:
            count = conn.numOfDomains() + conn.numOfDefinedDomains()
        except libvirt.libvirtError:
            return  # a broken connection is seen by ``_watch``
        with self._lock:
            self._guests = count

    def _closed_by_libvirt(self, _conn: object, reason: int, _opaque: object) -> None:
        self._broke(close_reason(reason))

    def _broke(self, reason: str) -> None:
        with self._lock:
            if self._conn is None:
                return
        if not self._stopping.is_set():
            log.warning("hypervisor %s (%s): %s", self.name, redact_uri(self.uri), reason)
            self._set(UNREACHABLE, reason)
        self._lost.set()

    def _set(self, state: str, reason: str) -> None:
        with self._lock:
            if state == UNREACHABLE:
                self._conn = None
            changed = state != self._state
            if changed:
                self._since = time.time()
            self._state, self._reason = state, reason
            self._changed.notify_all()
            listeners = list(self._listeners) if changed else []
            shown = HypervisorState(
                self.name, redact_uri(self.uri), state, reason, self._since,
                self._guests if state == CONNECTED else None,
            )  # fmt: skip
        for listener in listeners:
            try:
                listener(shown)
            except Exception:
                log.exception("hypervisor %s: a listener of its state failed", self.name)

    def _close(self, conn: libvirt.virConnect) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        if not conn.isAlive():
            # Closed by libvirt already; a call may still wait on it (see ``_watch``),
            # and closing it under that call crashed the host (libvirt 9.0): it is left
            # to the garbage collector, which closes it once no call holds it.
            return
        with contextlib.suppress(libvirt.libvirtError):
            conn.unregisterCloseCallback()
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()
