"""How the host and a console process talk: JSON lines both ways over pipes.

The process reports on its stdout: ``ready``, ``failed`` (code, params), ``connected`` and
``ended`` (code, params). The host writes ``stop`` (code) lines to the process's stdin;
end of file on stdin means the host is gone, and the process ends.
"""

from __future__ import annotations

import json
from typing import Any

READY = "ready"
FAILED = "failed"
CONNECTED = "connected"
ENDED = "ended"
STOP = "stop"


def encode(event: str, **fields: Any) -> bytes:
    return json.dumps({"event": event, **fields}).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        return {}
    return message if isinstance(message, dict) and "event" in message else {}


def is_mock_uri(uri: str) -> bool:
    """True for libvirt test-driver URIs, whose guests get the simulated console."""
    driver = uri.split(":", 1)[0].split("+", 1)[0]
    return driver == "test"


class ConsoleOpenError(Exception):
    """The guest console could not be opened; carries a message code and parameters."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params
