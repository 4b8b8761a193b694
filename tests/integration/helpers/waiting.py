"""Bounded waiting: poll for exactly what a test asserts, fail with what was last seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

POLL_INTERVAL = 0.02


class WaitTimeout(AssertionError):
    """What a test waited for did not happen in time."""


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a true value, and return that value; fail with
    ``what`` and the last value seen after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(POLL_INTERVAL)


def wait_equal(read: Callable[[], Any], expected: Any, timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``read()`` until it equals ``expected``; fail showing the last value read."""
    seen: list[Any] = [None]

    def matches() -> bool:
        seen[0] = read()
        return seen[0] == expected

    try:
        wait_for(matches, timeout, what or f"{expected!r}")
    except WaitTimeout:
        raise WaitTimeout(
            f"timed out after {timeout} s waiting for {what or 'the value'} to be "
            f"{expected!r}; last: {seen[0]!r}"
        ) from None
    return seen[0]
