"""Captures in the session registry: a console process the host starts for a running guest,
with no client, that lives while the guest runs; requests join it, a takeover sends its
writer away and ``close`` its clients, never the capture.
"""

from __future__ import annotations

import logging

from plugin_serialconsole import consoles, i18n
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.ids import console_id
from plugin_serialconsole.model.console_session import ConsoleSession
from plugin_serialconsole.model.guests import ConsoleDevice, Guest
from plugin_serialconsole.model.session_processes import (
    STOP_TIMEOUT,
    SessionProcesses,
    StartChoices,
)
from plugin_serialconsole.supervisor.process import STARTUP_TIMEOUT

log = logging.getLogger(__name__)


class SessionCaptures(SessionProcesses):
    """Starts captures and sends their clients away."""

    def _capture_first(self, guest: Guest, device: ConsoleDevice) -> None:
        """A guest the policy captures, opened before its capture started (a request
        racing the guest's start): the capture starts now and the request joins it, so
        the console has one owner and the log misses nothing."""
        with self._lock:
            if console_id(guest.uuid, device.alias, guest.hypervisor) in self._sessions:
                return
        self.capture(guest)

    def capture(self, guest: Guest, booted: bool = False) -> list[str]:
        """Have a capture on each console device of running ``guest`` (its run as just
        listed): start those missing (``booted``: the guest has just started), wait for
        those starting; return the aliases of the devices captured now."""
        captured: list[str] = []
        current = self._current_run(guest)
        if current is None:  # e.g. listed a moment before it stopped
            return captured
        guest = current
        for device in guest.consoles:
            session, start = self._session_for(guest, device)
            if not start:
                if session is not None and session.process is not None and session.captured:
                    captured.append(device.alias)
                continue
            try:
                escape = self.settings.escape_key
                view = StartChoices(consoles.VIEW, False, i18n.DEFAULT_LANGUAGE, escape, booted)
                self._start(session, view)
            except SerialConsoleError as error:  # the keeper says so once, at INFO
                log.debug(
                    "console %s of guest %s not captured: %s",
                    device.alias, guest.name, i18n.translate(error.code, error.params),
                )  # fmt: skip
                continue
            captured.append(device.alias)
        return captured

    def _session_for(
        self, guest: Guest, device: ConsoleDevice
    ) -> tuple[ConsoleSession | None, bool]:
        """(The session of ``device``, whether it is new and to be started by the caller.)
        A session that is ending, or that attached to another run of the guest (libvirt's
        domain ID differs: a quick stop and start), is of an earlier run: its end is
        awaited, so the new run gets a capture of its own instead of counting as captured
        by it; None if it lingers."""
        key = console_id(guest.uuid, device.alias, guest.hypervisor)
        while True:
            with self._lock:
                session = self._sessions.get(key)
                if session is None:
                    session = ConsoleSession(guest, device, key, captured=True)
                    self._sessions[key] = session
                    return session, True
            session.started.wait(STARTUP_TIMEOUT)
            earlier_run = session.guest.run_id != guest.run_id
            if session.process is None or (session.ending is None and not earlier_run):
                return session, False
            if not session.ended.wait(STOP_TIMEOUT):
                log.info(
                    "console %s of %s: the earlier run's capture lingers", device.alias, guest.name
                )
                return None, False

    def _current_run(self, guest: Guest) -> Guest | None:
        """``guest`` as it runs now, None if it does not: asked again only if a capture
        would start or another run's capture is found (the listing may be older)."""
        with self._lock:
            keys = [console_id(guest.uuid, d.alias, guest.hypervisor) for d in guest.consoles]
            sessions = [self._sessions.get(key) for key in keys]
            if all(
                s is not None and s.ending is None and s.guest.run_id == guest.run_id
                for s in sessions
            ):
                return guest  # nothing to start: no need to ask libvirt
        try:
            current = self.guests.lookup(guest.uuid, guest.hypervisor)
        except SerialConsoleError:
            return None
        return current if current.running else None

    def _send_writer_away(self, session: ConsoleSession) -> None:
        """A takeover of a capture: its writer goes, the capture stays."""
        with self._lock:
            writer = session.writer
            if writer is None:
                return
            session.release(writer.socket)
        self._send_away(session, writer, Reason.TAKEN_OVER)

    def _send_clients_away(self, session: ConsoleSession, reason: Reason) -> None:
        """End a capture's clients (and withdraw its invitations); the capture stays."""
        with self._lock:
            claims = [c for c in session.claims.values() if c.live]
            claims = [c for c in claims if c.mode in consoles.CLIENT_MODES]
            for claim in claims:
                session.release(claim.socket)
        for claim in claims:
            self._send_away(session, claim, reason)
