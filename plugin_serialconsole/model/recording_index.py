"""The index of a captured console's recent console sessions, which recordings are cut by.

Per console, ``<logs dir>/<console id>.rec``: one JSON line when a console session opens
(``{"event": "open", "session", "user", "mode", "device", "at"}``) and one when it ends
(``{"event": "end", "session", "at", "reason"}``); ``at`` is when the console process cut
the capture log for it (unix time). Past ``LIMIT`` bytes the file moves to ``.rec.1``
(replacing the one before), so the index stays small. The host appends to it; a session
whose end is missing (the host stopped meanwhile) has none.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_serialconsole import capturelog
from plugin_serialconsole.capturelog import GENERATIONS, OLDER, file_name
from plugin_serialconsole.rundir import UnsafeDirectory, open_private_dir

log = logging.getLogger(__name__)

SUFFIX = ".rec"
LIMIT = 64 * 1024  # bytes of one generation of a console's session index
OPEN = "open"
END = "end"
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND


@dataclass(frozen=True)
class SessionRecord:
    """One console session of one console device, as the index has it."""

    session: str
    user: str
    mode: str
    device: str
    start: float
    end: float | None = None
    reason: str = ""


class RecordingIndex:
    """The session indexes in the logs directory ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def opened(
        self, console: str, session: str, user: str, mode: str, device: str, at: float
    ) -> None:
        line = {"event": OPEN, "session": session, "user": user, "mode": mode, "device": device}
        self._append(console, {**line, "at": round(at, 3)})

    def ended(self, console: str, session: str, at: float, reason: str) -> None:
        self._append(
            console, {"event": END, "session": session, "at": round(at, 3), "reason": reason}
        )

    def _append(self, console: str, record: dict[str, Any]) -> None:
        """Add a line; a failure is logged, never stops a console."""
        line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
        with self._lock:
            try:
                directory = open_private_dir(self.directory)
            except (OSError, UnsafeDirectory) as error:
                log.warning("session index of console %s: %s", console, error)
                return
            try:
                self._append_at(directory, console, line)
            except OSError as error:
                log.warning("session index of console %s: %s", console, error)
            finally:
                os.close(directory)

    def _append_at(self, directory: int, console: str, line: bytes) -> None:
        name = file_name(console, SUFFIX)
        fd = capturelog.open_file(directory, name, _APPEND)
        try:
            if os.fstat(fd).st_size + len(line) > LIMIT:
                os.close(fd)
                fd = -1
                with contextlib.suppress(FileNotFoundError):
                    os.rename(
                        name,
                        file_name(console, SUFFIX, OLDER),
                        src_dir_fd=directory,
                        dst_dir_fd=directory,
                    )
                fd = capturelog.open_file(directory, name, _APPEND)
            os.write(fd, line)
        finally:
            if fd >= 0:
                os.close(fd)

    def sessions(self, directory: int, console: str) -> list[SessionRecord]:
        """The sessions of ``console`` the index holds, oldest first (``directory``: the
        logs directory's descriptor). Read without the writer's lock (the host's session
        bookkeeping writes through an index of its own), so the current file is opened
        before the rotated one: a rotation between the two openings leaves the file that
        was current at both descriptors (read twice, its records the same), where the
        other order would find the generation before it and the new, empty, current file,
        and miss the sessions just rotated."""
        opened: dict[str, SessionRecord] = {}
        ends: dict[str, tuple[float, str]] = {}
        names = [file_name(console, SUFFIX, generation) for generation in GENERATIONS]
        with contextlib.ExitStack() as files:
            fds = {name: _open(directory, name, files) for name in reversed(names)}
            generations = [_records(fds[name]) for name in names]  # oldest first
        for records in generations:
            for record in records:
                session, at = record.get("session"), record.get("at")
                if not isinstance(session, str) or not isinstance(at, int | float):
                    continue
                if record.get("event") == OPEN and session not in opened:
                    opened[session] = SessionRecord(
                        session,
                        str(record.get("user", "")),
                        str(record.get("mode", "")),
                        str(record.get("device", "")),
                        float(at),
                    )
                elif record.get("event") == END and session not in ends:
                    ends[session] = (float(at), str(record.get("reason", "")))
        return [
            SessionRecord(**{**vars(record), "end": ends[key][0], "reason": ends[key][1]})
            if key in ends
            else record
            for key, record in opened.items()
        ]


def _open(directory: int, name: str, files: contextlib.ExitStack) -> int | None:
    """A descriptor of ``name``, closed with ``files``; None when there is no such file."""
    try:
        fd = capturelog.open_file(directory, name, os.O_RDONLY)
    except FileNotFoundError:
        return None
    files.callback(os.close, fd)
    return fd


def _records(fd: int | None) -> list[dict[str, Any]]:
    if fd is None:
        return []
    data = os.pread(fd, 2 * LIMIT, 0)
    records = []
    for line in data.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records
