"""What the guests' consoles wrote, as files to download.

    GET    /vms/<guest>/serial/transcript  the recent output of a session, as a file
    GET    /vms/<guest>/serial/log       the capture log (?device=&since=&until=), as a file
                                         (&format=cast: as an asciicast v2 recording)
    GET    /vms/<guest>/recordings       the guest's recent console sessions (audit right)
    GET    /vms/<guest>/recordings/<id>  one session's recording, as an asciicast v2 file

Each transcript and log download goes to the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import cherrypy

from plugin_serialconsole import asciicast, audit, i18n
from plugin_serialconsole.audit import AuditTrail
from plugin_serialconsole.control import http
from plugin_serialconsole.control.guest_access import GuestAccess
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.model.capture_logs import CaptureLogs, parse_time
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.model.recordings import Recordings, log_cast
from plugin_serialconsole.rights import AUDIT


class LogRoutes:
    def __init__(
        self,
        access: GuestAccess,
        sessions: SessionManager,
        logs: CaptureLogs | None,
        trail: AuditTrail,
    ) -> None:
        self.access = access
        self.sessions = sessions
        self.logs = logs
        self.recordings = Recordings(logs) if logs is not None else None
        self.audit = trail

    def transcript(self, ident: str, hypervisor: str | None = None) -> bytes:
        query = http.query_params("serial_transcript")
        guest = self.access.current_guest(ident, hypervisor)
        session, data = self.sessions.transcript(guest, query.get("device"))
        self._downloaded(guest, session.device.alias, "transcript", len(data))
        name = http.safe_filename(f"{guest.name}-{session.device.alias}-{_stamp()}", ".log")
        return http.respond_file(data, name)

    def capture_log(self, ident: str, hypervisor: str | None = None) -> bytes:
        query = http.query_params("serial_log")
        since, until = (
            parse_time("since", query.get("since")),
            parse_time("until", query.get("until")),
        )
        guest = self.access.current_guest(ident, hypervisor)
        if self.logs is None:
            raise SerialConsoleError(i18n.LOG_NOT_FOUND, 404, guest=guest.name, device="")
        if query.get("format") == "cast":
            return self._log_cast(guest, query, since, until)
        tail = int(query["tail"]) if "tail" in query else None
        device, data = self.logs.read(guest, query.get("device"), since, until, tail)
        self._downloaded(guest, device, "log", len(data))
        name = http.safe_filename(f"{guest.name}-{device}-boot-log-{_stamp()}", ".log")
        return http.respond_file(data, name)

    def _log_cast(
        self, guest: Guest, query: dict[str, str], since: float | None, until: float | None
    ) -> Iterator[bytes]:
        if since is not None and until is not None and until < since:
            raise SerialConsoleError(i18n.LOG_BAD_RANGE, 400)
        device, lines = log_cast(self.logs, guest, query.get("device"), since, until)
        self._downloaded(guest, device, "log", None)  # streamed: its size is not known yet
        name = http.safe_filename(f"{guest.name}-{device}-boot-log-{_stamp()}", ".cast")
        return http.respond_stream(lines, name, asciicast.MEDIA_TYPE)

    def list_recordings(self, ident: str, hypervisor: str | None = None) -> bytes:
        guest = self.access.current_guest(ident, hypervisor)
        self.access.require(guest, AUDIT)
        return http.respond(200, self.recordings.list(guest) if self.recordings else [])

    def recording(self, ident: str, session: str, hypervisor: str | None = None) -> Iterator[bytes]:
        guest = self.access.current_guest(ident, hypervisor)
        self.access.require(guest, AUDIT)
        if self.recordings is None:
            raise SerialConsoleError(
                i18n.RECORDING_NOT_FOUND, 404, guest=guest.name, session=session
            )
        name, lines = self.recordings.cast(guest, session)
        self._downloaded(guest, None, "recording", None, recording=session)
        return http.respond_stream(lines, http.safe_filename(name, ".cast"), asciicast.MEDIA_TYPE)

    def _downloaded(
        self, guest: Guest, device: str | None, what: str, size: int | None, **fields: str
    ) -> None:
        """Audit a download (``size`` None: streamed, its size not known when it starts)."""
        self.audit.guest_event(
            audit.DOWNLOAD, guest, cherrypy.request.identity,
            device=device, what=what, bytes=size, **fields,
        )  # fmt: skip


def _stamp() -> str:
    """Now, for a downloaded file's name."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
