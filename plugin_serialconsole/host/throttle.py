"""Slows down password guessing against the users file.

Failures are counted per (address, name) and per address. Past a few free tries, each
further try must wait twice as long as the one before (up to five minutes); a success
clears the name's count. Entries are forgotten a while after their last failure, and
their number is capped, so a flood of made-up names cannot grow memory without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

FREE_TRIES_PER_NAME = 5
FREE_TRIES_PER_ADDRESS = 30
MAX_WAIT = 300.0
FORGET_AFTER = 900.0
MAX_ENTRIES = 10_000


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def wait_time(self, address: str, name: str) -> float:
        """Seconds until this address may try this name again; 0 when it may now."""
        now = self.clock()
        with self._lock:
            return max(
                self._wait(("name", f"{address}\0{name}"), FREE_TRIES_PER_NAME, now),
                self._wait(("address", address), FREE_TRIES_PER_ADDRESS, now),
            )

    def failed(self, address: str, name: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (("name", f"{address}\0{name}"), ("address", address)):
                count, _ = self._current(key, now)
                self._failures[key] = (count + 1, now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_ENTRIES:
                self._failures.popitem(last=False)

    def succeeded(self, address: str, name: str) -> None:
        with self._lock:
            self._failures.pop(("name", f"{address}\0{name}"), None)

    def _current(self, key: tuple[str, str], now: float) -> tuple[int, float]:
        count, last = self._failures.get(key, (0, now))
        if now - last > FORGET_AFTER:
            return 0, now
        return count, last

    def _wait(self, key: tuple[str, str], free: int, now: float) -> float:
        count, last = self._current(key, now)
        if count < free:
            return 0.0
        delay = min(2.0 ** (count - free), MAX_WAIT)
        return max(0.0, last + delay - now)
