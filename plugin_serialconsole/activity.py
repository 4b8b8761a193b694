"""Operator activity (a console session opened or ended), as a log record carries it.

The plugin logs each activity once, with its message code and parameters attached to the
record (``Activity.extra()``); a host that keeps its own activity log, like Wok's user
request log, picks them up with a logging handler (``Activity.of_record``) instead of
parsing the translated text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

RECORD_ATTRIBUTE = "serialconsole_activity"


@dataclass(frozen=True)
class Activity:
    """What happened (an ``L`` message code and its parameters) and whose doing it was."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    user: str | None = None

    def extra(self) -> dict[str, Activity]:
        """The ``extra=`` of the log call that reports it."""
        return {RECORD_ATTRIBUTE: self}

    @staticmethod
    def of_record(record: logging.LogRecord) -> Activity | None:
        found = getattr(record, RECORD_ATTRIBUTE, None)
        return found if isinstance(found, Activity) else None
