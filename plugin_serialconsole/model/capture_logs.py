"""The capture logs as the REST layer reads them: by guest and device, cut by time,
also for a guest that does not run now (``capturelog`` has the format)."""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from plugin_serialconsole import capturelog, i18n
from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.ids import console_id
from plugin_serialconsole.model.capture_policy import CapturePolicy
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.rundir import UnsafeDirectory, check_private_dir, open_private_dir
from plugin_serialconsole.timedlog import TimedLog

log = logging.getLogger(__name__)


def parse_time(name: str, value: str | None) -> float | None:
    """A ``since``/``until`` parameter: ISO 8601 (UTC unless it says otherwise) or seconds
    since the epoch; 400 with a code for anything else."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise SerialConsoleError(i18n.LOG_BAD_TIME, 400, name=name, value=value) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(seconds):
        raise SerialConsoleError(i18n.LOG_BAD_TIME, 400, name=name, value=value)
    return seconds


def prepare_state_dir(policy: CapturePolicy) -> None:
    """Make the state directory and its ``logs`` (0700), or refuse (ValueError: the host
    does not start) one that is a link, another user's or writable by others."""
    try:
        policy.state_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_dir(policy.state_dir, create=True)
        check_private_dir(policy.logs_dir, create=True)
    except OSError as error:
        raise ValueError(f"state_dir {policy.state_dir}: {error.strerror}") from None
    except UnsafeDirectory as error:
        raise ValueError(f"state_dir: {error}") from None


class CaptureLogs:
    """The logs in ``directory`` (the state directory's ``logs``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _open(self) -> int | None:
        """The logs directory's descriptor; None when there is none yet."""
        if not self.directory.exists() and not self.directory.is_symlink():
            return None
        try:
            return open_private_dir(self.directory)
        except UnsafeDirectory as error:
            raise SerialConsoleError(i18n.LOG_UNAVAILABLE, 503, error=str(error)) from None

    @contextlib.contextmanager
    def directory_fd(self) -> Iterator[int | None]:
        """The logs directory's descriptor while in the block; None when there is none."""
        directory = self._open()
        try:
            yield directory
        finally:
            if directory is not None:
                os.close(directory)

    def open_timed(self, key: str, guest: str, alias: str) -> TimedLog:
        """The log of console ``key`` (device ``alias`` of guest ``guest``), opened to be
        read as timed output and input; 404 when there is none."""
        with self.directory_fd() as directory:
            try:
                if directory is None or capturelog.last_written(directory, key) is None:
                    raise SerialConsoleError(i18n.LOG_NOT_FOUND, 404, guest=guest, device=alias)
                return TimedLog(directory, key)
            except OSError as error:
                raise SerialConsoleError(i18n.LOG_UNAVAILABLE, 503, error=str(error)) from None

    def read(
        self,
        guest: Guest,
        alias: str | None,
        since: float | None,
        until: float | None,
        tail: int | None = None,
    ) -> tuple[str, bytes]:
        """(device alias, the log of that device of ``guest`` from ``since`` until ``until``,
        of that the last ``tail`` bytes if given)."""
        if since is not None and until is not None and until < since:
            raise SerialConsoleError(i18n.LOG_BAD_RANGE, 400)
        device = guest.device(alias)
        key = console_id(guest.uuid, device.alias, guest.hypervisor)
        directory = self._open()
        try:
            if directory is None or capturelog.last_written(directory, key) is None:
                raise SerialConsoleError(
                    i18n.LOG_NOT_FOUND, 404, guest=guest.name, device=device.alias
                )
            return device.alias, capturelog.read_log(directory, key, since, until, tail)
        except OSError as error:
            raise SerialConsoleError(i18n.LOG_UNAVAILABLE, 503, error=str(error)) from None
        finally:
            if directory is not None:
                os.close(directory)

    def last_written(self, guests: list[Guest]) -> dict[tuple[str, str], str | None]:
        """By (hypervisor, guest UUID): when any of its consoles' logs was last written
        (ISO, UTC)."""
        try:
            directory = self._open()
        except SerialConsoleError as error:
            log.warning("capture logs: %s", error.reason())
            directory = None
        written: dict[tuple[str, str], str | None] = {}
        try:
            for guest in guests:
                times = []
                if directory is not None:
                    keys = (
                        console_id(guest.uuid, d.alias, guest.hypervisor) for d in guest.consoles
                    )
                    times = [t for k in keys if (t := capturelog.last_written(directory, k))]
                written[(guest.hypervisor, guest.uuid)] = (
                    datetime.fromtimestamp(max(times), UTC).isoformat(timespec="seconds")
                    if times
                    else None
                )
        finally:
            if directory is not None:
                os.close(directory)
        return written
