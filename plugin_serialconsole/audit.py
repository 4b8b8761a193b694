"""The audit trail: who did what with which console, as typed events.

Every event is one JSON object with the same fields, its text cut to a bound
(``auditevent``), appended to the audit log's file (``auditfile``) and, under systemd,
sent to the journal with structured fields (``journal``). Never a token, a password or a
cookie: a login is named by ``login``, the first 16 hex digits of the SHA-256 of its
cookie's digest, which ties a login's events together and tells nothing of the cookie.

A console session is one client's use of a console (``Claim.session_id``): it begins when
its token is issued (``opened``) and ends once (``ended``, with a reason kind) when the
client leaves, is displaced, its token lapses unused, its login ends or the console ends.
What the trail learnt at the open (operator, client address, login, guest, device) is
kept until that end, so events reported later by a console process's watcher thread,
outside any request, still name them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugin_serialconsole import journal
from plugin_serialconsole.auditevent import FIELDS as FIELDS  # re-exported: the trail's form
from plugin_serialconsole.auditevent import MAX_TEXT as MAX_TEXT
from plugin_serialconsole.auditevent import document, journal_fields
from plugin_serialconsole.auditfile import AuditFile, Event, encode
from plugin_serialconsole.auditlimit import EVERYONE as EVERYONE_CLIENTS
from plugin_serialconsole.auditlimit import NoiseLimit, Suppressed
from plugin_serialconsole.journal import Journal
from plugin_serialconsole.rundir import UnsafeDirectory, check_private_dir

if TYPE_CHECKING:
    from plugin_serialconsole.hookspecs import Identity
    from plugin_serialconsole.model.guests import Guest
    from plugin_serialconsole.settings import AuditSettings

log = logging.getLogger(__name__)

# Events. Logins are the host's (the standalone host tells the plugin; under Wok, Wok's).
LOGIN = "login"
LOGIN_FAILED = "login-failed"
LOGIN_THROTTLED = "login-throttled"
LOGOUT = "logout"
OPENED = "opened"  # a console token issued: a console session begins
CONNECTED = "connected"  # its client connected over the WebSocket
LEFT = "left"  # its client went away (then it ends)
TAKEOVER = "takeover"  # written in the new session; names the displaced one
ENDED = "ended"  # the console session ended
START = "start"  # a guest started with its consoles captured
SEND = "send"  # SysRq, NMI, Ctrl+Alt+Del, Break or a control key sent
DOWNLOAD = "download"  # a transcript or capture log downloaded
DENIED = "denied"  # a request refused: not logged in, no CSRF token, or a right missing
SUPPRESSED = "suppressed"  # how many refusals of a client were held back (``auditlimit``)
EVENTS = (LOGIN, LOGIN_FAILED, LOGIN_THROTTLED, LOGOUT, OPENED, CONNECTED, LEFT, TAKEOVER)
EVENTS += (ENDED, START, SEND, DOWNLOAD, DENIED, SUPPRESSED)
WARNINGS = frozenset({LOGIN_FAILED, LOGIN_THROTTLED, DENIED, SUPPRESSED})
NOISE = frozenset({LOGIN_FAILED, LOGIN_THROTTLED, DENIED})  # anyone can cause these
# Why a console session ended, beside the console's own reasons (``consoles.Reason``).
EXPIRED = "expired"  # its token lapsed unused
REMOVED = "removed"  # why a logout: the operator left the users file
# ``wok_login_attempt`` outcomes as events
LOGIN_EVENTS = {"ok": LOGIN, "failed": LOGIN_FAILED, "throttled": LOGIN_THROTTLED}


def login_id(digest: str | None) -> str | None:
    """The non-secret name of the login whose cookie has SHA-256 ``digest``."""
    return hashlib.sha256(digest.encode()).hexdigest()[:16] if digest else None


def now() -> str:
    """UTC, ISO 8601 with milliseconds: strings in this form sort as times do."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def request_client() -> str | None:
    """The client address of the request served on this thread (the host resolved it
    behind a trusted proxy); None outside a request (a console process's report)."""
    import cherrypy

    # a thread serving no request sees a stand-in shared by every thread
    if "request" not in vars(cherrypy.serving):
        return None
    return cherrypy.serving.request.remote.ip or None


@dataclass
class SessionContext:
    """What a console session's events name, learnt when it was opened."""

    operator: str | None
    client: str | None
    login: str | None
    hypervisor: str
    guest: str
    uuid: str
    device: str
    session: str
    displaced_by: str | None = None  # the operator taking the console over from it
    connected: bool = False  # its client came: its end is also its client's leaving


class AuditTrail:
    """Writes events to ``file`` and ``journal`` (either may be None: not kept there)."""

    def __init__(
        self,
        file: AuditFile | None = None,
        journal: Journal | None = None,
        clock: Callable[[], str] = now,
        noise: NoiseLimit | None = None,
    ) -> None:
        self.file = file
        self.journal = journal
        self.clock = clock
        self.noise = noise or NoiseLimit()
        self._lock = threading.Lock()
        self._sessions: dict[str, SessionContext] = {}  # open console sessions by id
        self._write_lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> None:
        """Write one event; ``fields`` beyond ``FIELDS`` are its own. A refusal past its
        client's share is counted instead (``auditlimit``)."""
        built = document(event, fields)
        if event in NOISE:
            admitted, over = self.noise.admit(built["client"], len(encode(built)))
            self._suppressed(over)
            if not admitted:
                return
        self._write(built)

    def _suppressed(self, counts: list[Suppressed]) -> None:
        for held in counts:
            client = None if held.client in ("", EVERYONE_CLIENTS) else held.client
            every = {"all_clients": True} if held.client == EVERYONE_CLIENTS else {}
            fields = {"client": client, "count": held.count, "seconds": held.seconds, **every}
            self._write(document(SUPPRESSED, fields))

    def _write(self, event: Event) -> None:
        with self._write_lock:  # stamped in the order written: the file reads in time order
            event["time"] = self.clock()
            if self.file is not None:
                self.file.append(event)
        if self.journal is not None:  # never waits (``journal``): sent outside the lock
            self.journal.send(journal_fields(event, event["event"] in WARNINGS))

    def login_event(self, event: str, user: str, client: str | None, digest: str | None) -> None:
        self.record(event, operator=user, client=client, login=login_id(digest))

    def guest_event(
        self, event: str, guest: Guest, identity: Identity | None, **fields: Any
    ) -> None:
        """An event of the current request about ``guest``."""
        self.record(event, **_actor(identity), **_guest_fields(guest), **fields)

    # console sessions ------------------------------------------------------

    def opened(
        self, session: str, guest: Guest, device: str, mode: str, identity: Identity | None
    ) -> None:
        actor = _actor(identity)
        context = SessionContext(**actor, **_guest_fields(guest), device=device, session=session)
        with self._lock:
            self._sessions[session] = context
        self.record(OPENED, **_context_fields(context), mode=mode)

    def connected(self, session: str) -> None:
        with self._lock:  # written before ``ended`` can take the session away
            context = self._sessions.get(session)
            if context is None or context.connected:
                return
            context.connected = True
            self.record(CONNECTED, **_context_fields(context))

    def displacing(self, session: str, by: str) -> str | None:
        """Console session ``session`` is being taken over by operator ``by``: its end
        will name them. Returns its operator."""
        with self._lock:
            context = self._sessions.get(session)
            if context is None:
                return None
            context.displaced_by = by
            return context.operator

    def took_over(self, session: str, displaced: str, displaced_operator: str | None) -> None:
        self._session_event(
            session, TAKEOVER, displaced=displaced_operator, displaced_session=displaced
        )

    def ended(self, session: str, reason: str, replaced_by: str | None = None) -> None:
        """Console session ``session`` ended, its client (if it came) gone, for ``reason``
        (``replaced_by``: the console session of the same login that took its seat):
        written once, later calls do nothing."""
        with self._lock:
            context = self._sessions.pop(session, None)
        if context is None:
            return
        fields = _context_fields(context)
        if context.connected:
            self.record(LEFT, **fields, reason=reason)
        extra = {"by": context.displaced_by} if context.displaced_by else {}
        if replaced_by is not None:
            extra["replaced_by"] = replaced_by
        self.record(ENDED, **fields, reason=reason, **extra)

    def _session_event(self, session: str, event: str, **fields: Any) -> None:
        with self._lock:
            context = self._sessions.get(session)
        if context is not None:
            self.record(event, **_context_fields(context), **fields)

    # reading ---------------------------------------------------------------

    def read(
        self,
        matches: Callable[[Event], bool],
        limit: int,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Event] | None:
        """The newest ``limit`` events ``matches`` accepts, oldest first, reading only
        as far back as ``since`` and skipping files that begin after ``until``; None
        when the trail has no file."""
        return None if self.file is None else self.file.read(matches, limit, since, until)

    def close(self) -> None:
        self._suppressed(self.noise.flush())
        if self.file is not None:
            self.file.close()
        if self.journal is not None:
            self.journal.close()


def _actor(identity: Identity | None) -> dict[str, str | None]:
    return {
        "operator": identity.user if identity else None,
        "client": request_client(),
        "login": login_id(identity.session_digest) if identity else None,
    }


def _guest_fields(guest: Guest) -> dict[str, str]:
    return {"hypervisor": guest.hypervisor, "guest": guest.name, "uuid": guest.uuid}


def _context_fields(context: SessionContext) -> dict[str, Any]:
    fields = asdict(context)
    del fields["displaced_by"], fields["connected"]
    return fields


def make_audit_trail(settings: AuditSettings | None, state_dir: Path) -> AuditTrail:
    """The trail ``settings`` ask for, its file opened now (ValueError: the host does not
    start with an audit log it cannot write). The state directory is made private (0700)
    when the file is in it; a file elsewhere needs its directory to exist."""
    if settings is None:
        return AuditTrail()
    file = None
    if settings.path is not None:
        try:
            if settings.path.parent == state_dir:
                state_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                check_private_dir(state_dir, create=True)
            file = AuditFile(settings.path, settings.max_size).open()
        except OSError as error:
            raise ValueError(f"audit_log {settings.path}: {error.strerror}") from None
        except UnsafeDirectory as error:
            raise ValueError(f"audit_log: {error}") from None
    trail_journal = Journal() if journal.wanted(settings.journal) else None
    if file is None and trail_journal is None:
        log.info("no audit trail is kept (audit_log = no, and not to the journal)")
    return AuditTrail(file, trail_journal)
