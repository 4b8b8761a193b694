"""The host's one shared libvirt connection, reopened when it breaks."""

from __future__ import annotations

import logging
import threading

import libvirt

from plugin_serialconsole.libvirtloop import start_event_thread

log = logging.getLogger(__name__)


def log_libvirt_errors() -> None:
    """Send libvirt's error reports to the log instead of raw onto stderr.

    Unless a handler is registered, libvirt prints every error on stderr as it is, guest
    names from requests included ("no domain with matching name ..."). Callers get the
    same error as an exception; the report goes to the log at DEBUG, escaped there.
    """
    libvirt.registerErrorHandler(_log_error, None)


def _log_error(_context: object, error: tuple) -> None:
    log.debug("libvirt: %s", error[2] if len(error) > 2 else error)


class SharedConnection:
    """Hands out one live connection to ``uri``; reconnects when it is found dead.

    Like Nova's ``_get_connection``: every caller asks again instead of keeping the
    connection, and a dead one is replaced on the next ask.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()

    def get(self) -> libvirt.virConnect:
        with self._lock:
            if self._conn is not None and not self._alive(self._conn):
                log.warning("libvirt connection to %s is broken; reconnecting", self.uri)
                self._close()
            if self._conn is None:
                start_event_thread()  # before connecting: plugins follow its events
                self._conn = libvirt.open(self.uri)
                log.info("connected to libvirt at %s", self.uri)
            return self._conn

    @staticmethod
    def _alive(conn: libvirt.virConnect) -> bool:
        try:
            return bool(conn.isAlive()) and conn.getLibVersion() > 0
        except libvirt.libvirtError:
            return False

    def _close(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        except libvirt.libvirtError:
            pass
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()
