"""One audit event's form: its document (``document``) and its journal entry (``journal_fields``).

Every event is one JSON object with the same fields (``FIELDS``; null where one does not
apply) and a few of its own. Text from outside (a request's path and method, a login's
user name, a guest's name, a reason) is cut to ``MAX_TEXT`` characters where an event is
built, its field named in ``truncated``: a line stays a few KiB whatever a client sends
(at most 12 bytes a character, escaped), well within what the file's reader takes, and
so the noise limit (``auditlimit``), which counts bytes as well as events, bounds what
anyone can add to the file. The journal's MESSAGE has its control characters escaped as
the host log's lines do (``logfmt``).
"""

from __future__ import annotations

from typing import Any

from plugin_serialconsole.auditfile import Event
from plugin_serialconsole.logfmt import escape_controls

# Every event has these, in this order.
FIELDS = ("time", "event", "operator", "client", "hypervisor", "guest", "uuid", "device")
FIELDS += ("session", "login")
MAX_TEXT = 256  # characters of one field's text; the rest is cut
TRUNCATED = "truncated"  # the names of the fields cut


def document(event: str, fields: dict[str, Any]) -> Event:
    """Event ``event`` with ``FIELDS`` first (null where not given), then its own
    ``fields``; each text longer than ``MAX_TEXT`` cut, and named in ``truncated``. Fields
    hold texts, numbers, booleans or null."""
    built: Event = {name: None for name in FIELDS}
    built.update(fields, event=event)
    cut = [
        name for name, value in built.items() if isinstance(value, str) and len(value) > MAX_TEXT
    ]
    for name in cut:
        built[name] = built[name][:MAX_TEXT]
    if cut:
        built[TRUNCATED] = cut
    return built


def journal_fields(event: Event, warning: bool) -> dict[str, str]:
    """The journal entry of ``event`` (a warning, or a notice): a readable MESSAGE, and
    each field that has a value as ``SERIALCONSOLE_<NAME>``."""
    named = [f"{k}={v}" for k, v in event.items() if k not in ("time", "event") and v]
    fields = {
        "MESSAGE": escape_controls(f"audit: {event['event']} " + " ".join(named)),
        "PRIORITY": "4" if warning else "5",
        "SYSLOG_IDENTIFIER": "serialconsole",
    }
    for name, value in event.items():
        if value is not None and name != "time":
            fields[f"SERIALCONSOLE_{name}"] = str(value)
    return fields
