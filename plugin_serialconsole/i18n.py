"""Every message the plugin shows, by code (how a text is translated is `translation.py`;
which language a request gets is `languages.py`).

Codes are ``SCONS`` + 4 digits + severity: ``E`` for errors returned to clients, ``L`` for
activity (session ends, told to the console client and logged). Texts use ``%(name)s``
placeholders so gettext tools check them; a text that counts something (seconds, bytes) is
an ``Nn_`` message, with the plural forms each language has.
"""

from __future__ import annotations

# DEFAULT_LANGUAGE stays reachable here: the language of every message by default.
from plugin_serialconsole.languages import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from plugin_serialconsole.translation import N_, Nn_, Plural, translated

# Each message's code, named once: code refers to a message by its name.
GUEST_NOT_FOUND = "SCONS0001E"
GUEST_NOT_RUNNING = "SCONS0002E"
CONSOLE_IN_USE = "SCONS0003E"
NO_SUCH_DEVICE = "SCONS0004E"
NO_CONSOLE_DEVICE = "SCONS0005E"
BODY_NOT_JSON = "SCONS0006E"
INVALID_REQUEST = "SCONS0007E"
NO_OPEN_SESSION = "SCONS0008E"
CONSOLE_OPEN_FAILED = "SCONS0009E"
CONNECTION_UNAVAILABLE = "SCONS0010E"
RESOURCE_NOT_FOUND = "SCONS0011E"
METHOD_NOT_ALLOWED = "SCONS0012E"
INTERNAL_ERROR = "SCONS0013E"
BODY_NOT_JSON_TYPE = "SCONS0014E"
BODY_TOO_LARGE = "SCONS0015E"
AUTHENTICATION_REQUIRED = "SCONS0016E"
HTTP_ERROR = "SCONS0017E"
TOO_MANY_SESSIONS = "SCONS0018E"
CSRF_TOKEN_REQUIRED = "SCONS0019E"
WRONG_CREDENTIALS = "SCONS0020E"
LOGIN_BODY_EXPECTED = "SCONS0021E"
TOO_MANY_FAILED_LOGINS = "SCONS0022E"
TOO_MANY_VIEWERS = "SCONS0023E"
UI_NOT_BUILT = "SCONS0024E"
CLIENT_CLOSED = "SCONS0101L"
CTRL_Q_PRESSED = "SCONS0102L"
IDLE_TIMEOUT = "SCONS0103L"
GUEST_STOPPED = "SCONS0104L"
HOST_STOPPING = "SCONS0105L"
OPERATOR_ENDED = "SCONS0106L"
TAKEN_OVER = "SCONS0107L"
NOBODY_CAME = "SCONS0108L"
CONSOLE_CLOSED = "SCONS0109L"
SESSION_OPENED = "SCONS0110L"
SESSION_ENDED = "SCONS0111L"
NOBODY_REATTACHED = "SCONS0112L"
OUTPUT_SKIPPED = "SCONS0113L"
REQUEST_TIMEOUT = "SCONS0040E"
HEADER_TOO_LARGE = "SCONS0041E"
TOO_MANY_CONNECTIONS_FROM_ADDRESS = "SCONS0042E"
BAD_FRAMING = "SCONS0043E"
TOO_MANY_CONNECTIONS = "SCONS0044E"
# The WebSocket proxy's refusals (issue 20).
WS_HANDLERS_BUSY = "SCONS0070E"
CONSOLE_TOKEN_REFUSED = "SCONS0072E"
CONSOLE_GONE = "SCONS0073E"
CONSOLE_RELAY_FAILED = "SCONS0074E"
# One process relays every console connection (issue 20, second slice).
WS_HANDSHAKE_FAILED = "SCONS0090E"
LOGIN_ENDED = "SCONS0114L"
RIGHT_DENIED = "SCONS0055E"
WOK_REQUESTED_WITH_REQUIRED = "SCONS0075E"
SEND_TIMEOUT = "SCONS0060E"
SEND_FAILED = "SCONS0061E"
BREAK_DISABLED = "SCONS0062E"
SEND_UNSUPPORTED = "SCONS0063E"
CONTROL_KEY_NEEDS_SESSION = "SCONS0064E"
CTRL_BRACKET_PRESSED = "SCONS0120L"
SENT_TO_GUEST = "SCONS0121L"
LOG_BAD_TIME = "SCONS0045E"
LOG_BAD_RANGE = "SCONS0046E"
LOG_NOT_FOUND = "SCONS0047E"
LOG_UNAVAILABLE = "SCONS0048E"
ALREADY_RUNNING = "SCONS0049E"
START_FAILED = "SCONS0050E"
CAPTURE_BOOT = "SCONS0115L"
CAPTURE_GAP = "SCONS0116L"
CAPTURE_ATTACHED = "SCONS0117L"
CAPTURE_ENDED = "SCONS0118L"
CAPTURE_HOST_DOWN = "SCONS0119L"
AUDIT_LOG_OFF = "SCONS0140E"
AMBIGUOUS_GUEST = "SCONS0080E"
HYPERVISOR_UNAVAILABLE = "SCONS0081E"
NO_SUCH_HYPERVISOR = "SCONS0082E"
HYPERVISOR_TIMEOUT = "SCONS0083E"
# Recordings (issue 18).
RECORDING_NOT_FOUND = "SCONS0030E"
# A hypervisor lost while its consoles are open (issue 16).
HYPERVISOR_UNREACHABLE = "SCONS0132L"
# A writer's own login opened its console again (a reloaded page, another tab).
REOPENED = "SCONS0134L"
# A WebSocket from a page of a foreign Origin.
ORIGIN_REFUSED = "SCONS0025E"

messages: dict[str, str | Plural] = {
    GUEST_NOT_FOUND: N_("Guest %(guest)s does not exist."),
    GUEST_NOT_RUNNING: N_("Guest %(guest)s is not running (state: %(state)s)."),
    CONSOLE_IN_USE: N_(
        "Console %(device)s of guest %(guest)s is already in use. "
        'Send {"force": true} to take it over.'
    ),
    NO_SUCH_DEVICE: N_("Guest %(guest)s has no console device %(device)s. Devices: %(devices)s."),
    NO_CONSOLE_DEVICE: N_("Guest %(guest)s has no serial or console device."),
    BODY_NOT_JSON: N_("The request body is not valid JSON: %(error)s"),
    INVALID_REQUEST: N_("Invalid request: %(error)s"),
    NO_OPEN_SESSION: N_("Guest %(guest)s has no open console session."),
    CONSOLE_OPEN_FAILED: N_("The console of guest %(guest)s could not be opened: %(error)s"),
    CONNECTION_UNAVAILABLE: N_("The libvirt connection %(uri)s is not available: %(error)s"),
    RESOURCE_NOT_FOUND: N_("Resource not found: %(path)s"),
    AMBIGUOUS_GUEST: N_(
        "Guest %(guest)s exists on several hypervisors: %(hypervisors)s. "
        "Name one: /hypervisors/<hypervisor>/vms/%(guest)s."
    ),
    HYPERVISOR_UNAVAILABLE: N_("Hypervisor %(hypervisor)s (%(uri)s) is not connected: %(reason)s"),
    NO_SUCH_HYPERVISOR: N_("There is no hypervisor named %(hypervisor)s."),
    HYPERVISOR_TIMEOUT: N_(
        "Hypervisor %(hypervisor)s did not answer about guest %(guest)s within %(seconds)s "
        "seconds; what was asked may still happen."
    ),
    METHOD_NOT_ALLOWED: N_("Method %(method)s is not allowed here."),
    INTERNAL_ERROR: N_("Internal error; the host log has the details."),
    BODY_NOT_JSON_TYPE: N_(
        "The request body must be a JSON document (Content-Type: application/json)."
    ),
    BODY_TOO_LARGE: Nn_(
        "The request body is larger than %(limit)s byte.",
        "The request body is larger than %(limit)s bytes.",
        "limit",
    ),
    AUTHENTICATION_REQUIRED: N_("Authentication required."),
    HTTP_ERROR: N_("HTTP error %(status)s."),
    CSRF_TOKEN_REQUIRED: N_("This request needs the X-CSRF-Token header of your login session."),
    WRONG_CREDENTIALS: N_("Wrong user name or password."),
    LOGIN_BODY_EXPECTED: N_('Log in with a JSON body {"username": "...", "password": "..."}.'),
    TOO_MANY_FAILED_LOGINS: Nn_(
        "Too many failed logins. Try again in %(seconds)s second.",
        "Too many failed logins. Try again in %(seconds)s seconds.",
        "seconds",
    ),
    TOO_MANY_SESSIONS: N_(
        "Too many console sessions are open (the limit is %(limit)s). End one and try again."
    ),
    CLIENT_CLOSED: N_("Console closed by the client."),
    CTRL_Q_PRESSED: N_("Disconnected (Ctrl+Q)."),
    IDLE_TIMEOUT: Nn_(
        "No activity for %(seconds)s second; console closed.",
        "No activity for %(seconds)s seconds; console closed.",
        "seconds",
    ),
    GUEST_STOPPED: N_("The guest stopped."),
    HOST_STOPPING: N_("The host is shutting down."),
    OPERATOR_ENDED: N_("The session was ended by an operator."),
    TAKEN_OVER: N_("The console was taken over by another session."),
    NOBODY_CAME: Nn_(
        "No client connected within %(seconds)s second.",
        "No client connected within %(seconds)s seconds.",
        "seconds",
    ),
    CONSOLE_CLOSED: N_("The guest console closed: %(error)s"),
    SESSION_OPENED: N_("Console session of guest %(guest)s, device %(device)s opened."),
    SESSION_ENDED: N_("Console session of guest %(guest)s, device %(device)s ended: %(reason)s"),
    # Reattach, viewers and transcripts (issue 8).
    TOO_MANY_VIEWERS: N_(
        "Console %(device)s of guest %(guest)s has as many viewers as allowed (%(limit)s)."
    ),
    # The browser UI (issue 14).
    UI_NOT_BUILT: N_(
        "The web UI is not built on this host: run `make ui` in the plugin's source "
        "checkout (and set ui_dir to its ui/ directory if the plugin was installed from it)."
    ),
    NOBODY_REATTACHED: Nn_(
        "Nobody reattached within %(seconds)s second; console closed.",
        "Nobody reattached within %(seconds)s seconds; console closed.",
        "seconds",
    ),
    OUTPUT_SKIPPED: Nn_(
        "This view fell behind: %(bytes)s byte of output skipped.",
        "This view fell behind: %(bytes)s bytes of output skipped.",
        "bytes",
    ),
    # Limits on HTTP clients of the REST port (host.gate, host.framing; issue 13).
    REQUEST_TIMEOUT: Nn_(
        "The request did not arrive within %(seconds)s second.",
        "The request did not arrive within %(seconds)s seconds.",
        "seconds",
    ),
    HEADER_TOO_LARGE: Nn_(
        "The request header is larger than %(limit)s byte.",
        "The request header is larger than %(limit)s bytes.",
        "limit",
    ),
    TOO_MANY_CONNECTIONS_FROM_ADDRESS: N_(
        "Too many connections from your address (the limit is %(limit)s). Close some and try again."
    ),
    BAD_FRAMING: N_("The request's Content-Length or Transfer-Encoding is invalid: %(error)s"),
    TOO_MANY_CONNECTIONS: N_(
        "The server has as many connections open as it allows (%(limit)s). Try again later."
    ),
    WS_HANDLERS_BUSY: N_(
        "The console service serves as many WebSocket connections as it allows (%(limit)s). "
        "Try again later."
    ),
    CONSOLE_TOKEN_REFUSED: N_("Unknown, used or expired console token. Open the console again."),
    CONSOLE_GONE: N_("The console has ended. Open it again."),
    CONSOLE_RELAY_FAILED: N_("The connection to the console failed: %(error)s"),
    WS_HANDSHAKE_FAILED: N_(
        "The console service could not handle this connection: %(error)s. Try again later."
    ),
    # Logout ends a login's consoles (issue 13).
    LOGIN_ENDED: N_("Your login session ended."),
    # Rights (issue 17).
    RIGHT_DENIED: N_("Operator %(user)s does not have the %(right)s right on guest %(guest)s."),
    # Inside Wok (issue 19).
    WOK_REQUESTED_WITH_REQUIRED: N_(
        "This request uses your Wok login and needs the header X-Requested-With: XMLHttpRequest."
    ),
    # Send to the guest; the escape key (issue 17).
    SEND_TIMEOUT: N_(
        "The hypervisor did not answer within %(seconds)s seconds; %(sent)s may or may not "
        "have reached guest %(guest)s."
    ),
    SEND_FAILED: N_("Sending %(sent)s to guest %(guest)s failed: %(error)s"),
    BREAK_DISABLED: N_(
        "Sending a Break is switched off on this host (allow_break in the [serialconsole] "
        "config section)."
    ),
    SEND_UNSUPPORTED: N_("The hypervisor of guest %(guest)s cannot send %(sent)s: %(error)s"),
    CONTROL_KEY_NEEDS_SESSION: N_(
        "A control key goes through the open console: open console %(device)s of guest "
        "%(guest)s first."
    ),
    CTRL_BRACKET_PRESSED: N_("Disconnected (Ctrl+])."),
    SENT_TO_GUEST: N_("Operator %(user)s sent %(sent)s to guest %(guest)s."),
    # The capture log (issue 15): lines the capture writes into a guest's log.
    LOG_BAD_TIME: N_(
        "%(name)s: not a time: %(value)s. Give ISO 8601 (2026-01-31T12:00:00Z) or seconds "
        "since 1970."
    ),
    LOG_BAD_RANGE: N_("until is before since."),
    LOG_NOT_FOUND: N_("Console %(device)s of guest %(guest)s has no log."),
    LOG_UNAVAILABLE: N_("The console logs cannot be read: %(error)s"),
    ALREADY_RUNNING: N_("Guest %(guest)s is already running."),
    START_FAILED: N_("Guest %(guest)s could not be started: %(error)s"),
    CAPTURE_BOOT: N_("guest started at %(time)s"),
    CAPTURE_GAP: N_("not captured from %(start)s to %(end)s: %(reason)s"),
    CAPTURE_ATTACHED: N_("capture started at %(time)s; the guest was already running"),
    CAPTURE_ENDED: N_("capture ended at %(time)s: %(reason)s"),
    CAPTURE_HOST_DOWN: N_("The host was not running."),
    AUDIT_LOG_OFF: N_("No audit log is kept here (audit_log = no)."),
    RECORDING_NOT_FOUND: N_("Guest %(guest)s has no recording of console session %(session)s."),
    HYPERVISOR_UNREACHABLE: N_("The hypervisor %(hypervisor)s is unreachable: %(error)s"),
    REOPENED: N_("The console was opened again by your login, in another page or tab."),
    ORIGIN_REFUSED: N_(
        "Pages from this origin may not open consoles here. "
        "Open the console from this host's own web page."
    ),
}


def translate(code: str, params: dict[str, object] | None = None, language: str = "en") -> str:
    """The text of message ``code`` in ``language`` (English when untranslated)."""
    return translated(messages[code], params, language)
