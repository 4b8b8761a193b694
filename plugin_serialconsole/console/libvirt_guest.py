"""The guest behind a real console: the console process's own libvirt connection to it.

Connecting turns on libvirt's keepalive (``libvirtloop.KEEPALIVE``, the host's too: a
hypervisor that stops answering closes the connection in bounded time) and registers the
guest's lifecycle and reboot events and the connection's close; the console opens its
streams here and asks here whether the guest still runs. These are
libvirt calls only, callable from any thread: ``LibvirtConsole`` runs the ones recovery
makes, and the teardown, off its loop and bounded (``libvirt_calls``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import libvirt

from plugin_serialconsole.hypervisor_uris import redact_message
from plugin_serialconsole.libvirtloop import KEEPALIVE

log = logging.getLogger(__name__)


def _log_libvirt_error(uri: str, error: tuple) -> None:
    """libvirt prints every error on stderr unless told otherwise; callers handle them.
    Logged without ``uri``'s credentials parameters (libvirt may name a key file)."""
    log.debug("libvirt: %s", redact_message(str(error[2] if len(error) > 2 else error), uri))


def is_busy(error: libvirt.libvirtError) -> bool:
    """The device is held by another client (see ``libvirt_stream``'s docstring)."""
    return error.get_error_code() == libvirt.VIR_ERR_OPERATION_FAILED


class GuestConnection:
    """One guest over a libvirt connection of its own."""

    def __init__(
        self,
        uri: str,
        guest_uuid: str,
        opener: Callable[[str], libvirt.virConnect] = libvirt.open,
    ) -> None:
        self.uri = uri
        self.guest_uuid = guest_uuid
        self._opener = opener
        self._conn = None
        self._domain = None
        self._lifecycle_id: int | None = None
        self._reboot_id: int | None = None

    def connect(
        self,
        on_lifecycle: Callable[[int], None],
        on_reboot: Callable[[], None],
        on_closed: Callable[[int], None],
    ) -> None:
        """Open the connection, find the guest, register its events; the callbacks run on
        libvirt's event thread. On a libvirtError what was set up stays for ``detach``."""
        libvirt.registerErrorHandler(_log_libvirt_error, self.uri)
        self._conn = self._opener(self.uri)
        try:
            KEEPALIVE.apply(self._conn)
        except libvirt.libvirtError as error:  # local drivers have none
            log.debug("no keepalive on %s: %s", self.guest_uuid, error.get_error_message())
        self._domain = self._conn.lookupByUUIDString(self.guest_uuid)
        self._conn.registerCloseCallback(lambda _conn, reason, _opaque: on_closed(reason), None)
        self._lifecycle_id = self._conn.domainEventRegisterAny(
            self._domain,
            libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda _conn, _domain, event, _detail, _opaque: on_lifecycle(event),
            None,
        )
        self._reboot_id = self._conn.domainEventRegisterAny(
            self._domain,
            libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
            lambda _conn, _domain, _opaque: on_reboot(),
            None,
        )

    def open_console(self, device: str, force: bool):
        """A non-blocking stream with console ``device`` open on it."""
        stream = self._conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        flags = libvirt.VIR_DOMAIN_CONSOLE_SAFE
        if force:
            flags |= libvirt.VIR_DOMAIN_CONSOLE_FORCE
        try:
            self._domain.openConsole(device, stream, flags)
        except libvirt.libvirtError:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise
        return stream

    def is_active(self) -> bool:
        """Whether the guest runs (False once it is gone)."""
        try:
            return bool(self._domain.isActive())
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False
            raise

    def lost(self) -> bool:
        """Whether the connection broke under the console (libvirt closed it: keepalive,
        end of file, an error), as opposed to being open or closed by ``detach``."""
        conn = self._conn
        if conn is None:
            return False
        try:
            return not conn.isAlive()
        except libvirt.libvirtError:
            return True

    def detach(self) -> Callable[[], None] | None:
        """Forget the connection; returns what lets libvirt go of it (its events, its
        close callback, itself), which may block: run it bounded. None when not connected."""
        conn, self._conn = self._conn, None
        if conn is None:
            return None
        callbacks = (self._lifecycle_id, self._reboot_id)

        def release() -> None:
            for callback in callbacks:
                if callback is not None:
                    with contextlib.suppress(libvirt.libvirtError):
                        conn.domainEventDeregisterAny(callback)
            with contextlib.suppress(libvirt.libvirtError):
                conn.unregisterCloseCallback()
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()

        return release
