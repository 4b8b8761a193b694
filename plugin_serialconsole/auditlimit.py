"""Keeps anyone who can reach the host from flushing the audit log with refusals.

Failed logins and refused requests need no credentials: written one line each, a client
sending thousands a second would rotate the real events out of the kept files within
minutes. So each client address may add at most ``per_client`` of them a window (a
minute), and all clients together ``overall``; and, as a client chooses how long its
lines are (its request's path, the user name it tries; ``audit`` cuts each text, yet a
line of escaped characters still takes a few KiB), at most ``BYTES_PER_EVENT`` bytes a
counted event on average. What is held back is counted, and each
window's count is written as one ``suppressed`` event when the window is over (or the
trail closes). Windows are kept in the order they began, so the ones that are over are
found at the front, and their number is capped.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

PER_CLIENT = 30
OVERALL = 300
BYTES_PER_EVENT = 1024  # a refusal's line takes some 300 bytes
WINDOW = 60.0
MAX_WINDOWS = 10_000
EVERYONE = "*"  # the key of the window shared by all clients


@dataclass
class _Window:
    start: float
    count: int = 0
    size: int = 0  # bytes of the events admitted
    suppressed: int = 0

    def admits(self, events: int, size: int) -> bool:
        """Whether one more event of ``size`` bytes fits a share of ``events`` events."""
        return self.count < events and self.size + size <= events * BYTES_PER_EVENT

    def add(self, size: int) -> None:
        self.count += 1
        self.size += size


@dataclass(frozen=True)
class Suppressed:
    """Events of ``client`` (``EVERYONE``: of all clients past ``OVERALL``) held back in
    a window of ``seconds`` seconds."""

    client: str
    count: int
    seconds: float


class NoiseLimit:
    def __init__(
        self,
        per_client: int = PER_CLIENT,
        overall: int = OVERALL,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, _Window] = OrderedDict()  # by client, oldest first
        self._everyone = _Window(clock())

    def admit(self, client: str | None, size: int = 0) -> tuple[bool, list[Suppressed]]:
        """Whether an event of ``client``, ``size`` bytes long, is written, and the counts
        of windows now over."""
        now = self.clock()
        key = client or ""
        with self._lock:
            over = self._close_windows(now)
            everyone = self._everyone
            mine = self._windows.get(key)
            if mine is None:
                mine = self._windows[key] = _Window(now)
                if len(self._windows) > MAX_WINDOWS:  # the oldest goes first, its count said
                    oldest, window = self._windows.popitem(last=False)
                    over += [self._report(oldest, window)] if window.suppressed else []
            if not mine.admits(self.per_client, size):
                mine.suppressed += 1
                return False, over
            if not everyone.admits(self.overall, size):
                everyone.suppressed += 1
                return False, over
            mine.add(size)
            everyone.add(size)
            return True, over

    def flush(self) -> list[Suppressed]:
        """The counts held back so far, whatever their windows (the trail closes)."""
        with self._lock:
            windows = [*self._windows.items(), (EVERYONE, self._everyone)]
            held = [self._report(key, w) for key, w in windows if w.suppressed]
            self._windows.clear()
            self._everyone = _Window(self.clock())
        return held

    def _close_windows(self, now: float) -> list[Suppressed]:
        over = []
        if now - self._everyone.start >= self.window:
            if self._everyone.suppressed:
                over.append(self._report(EVERYONE, self._everyone))
            self._everyone = _Window(now)
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if now - window.start < self.window:
                break
            del self._windows[key]
            if window.suppressed:
                over.append(self._report(key, window))
        return over

    def _report(self, key: str, window: _Window) -> Suppressed:
        return Suppressed(key, window.suppressed, self.window)
