"""The audit trail as tests read it: the file a test host writes, its events, and a host
with a users file (``--auth users``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .host import Host
from .operators import write_users_file
from .waiting import wait_for

AUDIT_TIMEOUT = 10.0


def audit_file(host: Host) -> Path:
    return host.run_dir / "state" / "audit.log"


def events(host: Host) -> list[dict[str, Any]]:
    path = audit_file(host)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_event(host: Host, what: str, **fields: Any) -> dict[str, Any]:
    """The first audit event ``what`` with ``fields``, once it is written."""

    def found() -> dict[str, Any] | None:
        for event in events(host):
            if event["event"] == what and all(event.get(k) == v for k, v in fields.items()):
                return event
        return None

    return wait_for(found, AUDIT_TIMEOUT, f"audit event {what} {fields}")


def users_host(start_host, tmp_path: Path, *names: str, options: tuple[str, ...] = ()) -> Host:
    users = write_users_file(tmp_path / "users", *names)
    return start_host("--auth", "users", "--users-file", str(users), *options)
