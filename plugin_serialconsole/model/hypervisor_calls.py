"""Calls to one hypervisor, made on threads of its own so a request can stop waiting.

A libvirt call on a connection whose link just died blocks until libvirt's keepalive
gives up (some 20 s). A request must not wait that long: it hands the call to one of
this hypervisor's few worker threads and waits for the answer a bounded time. Calls
queue behind a stuck one (the threads are bounded, whatever the request rate); a call
the request stopped waiting for is cancelled while it is still queued. The workers are
daemon threads: one stuck for good never keeps the host from exiting. ``stop`` is final:
a call made after it fails at once, and no worker starts again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

log = logging.getLogger(__name__)

# One call at a time on a hypervisor's connection: with two, libvirt 9.0 may never
# return the second when its keepalive closes the connection, and later crashes.
WORKERS = 1
T = TypeVar("T")

_Item = tuple[Callable[[], object], Future] | None


class NoAnswer(Exception):
    """The hypervisor did not answer a call within the time the request waits."""


class _Handoff:
    """Who takes a call's result: the request waiting for it, or, once it has given up,
    ``late`` (e.g. resume a guest whose start answered after the request gave up)."""

    def __init__(self, late: Callable[[T], object] | None) -> None:
        self._lock = threading.Lock()
        self._late = late
        self._given_up = False
        self._delivered = False

    def deliver(self, result: T) -> T:
        with self._lock:
            self._delivered = True
            given_up = self._given_up
        if given_up and self._late is not None:
            self._late(result)
        return result

    def give_up(self) -> bool:
        """Whether the request gives up (False: the result is already on its way)."""
        with self._lock:
            self._given_up = not self._delivered
            return self._given_up


class HypervisorCalls:
    """Runs calls for hypervisor ``name`` on at most ``workers`` daemon threads."""

    def __init__(self, name: str, workers: int = WORKERS) -> None:
        self.name = name
        self._workers = workers
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._pending = 0
        self._stopped = False

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """``call`` queued for a worker; its future holds its result or exception."""
        future: Future[T] = Future()
        with self._lock:
            if self._stopped:
                future.set_exception(RuntimeError(f"calls to hypervisor {self.name}: stopped"))
                return future
            self._pending += 1
            self._queue.put((call, future))
            self._add_worker()
        return future

    def answer(
        self, call: Callable[[], T], seconds: float, late: Callable[[T], object] | None = None
    ) -> T:
        """``call``'s result (or exception), waited for at most ``seconds``: NoAnswer
        beyond. Then a call still queued is cancelled, unless it has a ``late`` handler:
        such a call always runs, and a result it returns after that goes to ``late``."""
        handoff = _Handoff(late)
        future = self.submit(lambda: handoff.deliver(call()))
        try:
            return future.result(timeout=seconds)
        except FutureTimeout:
            if late is None:
                future.cancel()  # still queued: nobody waits for it any more
            if not handoff.give_up():
                return future.result()  # it returned just now
            raise NoAnswer(f"hypervisor {self.name}: no answer within {seconds:g} s") from None

    def _add_worker(self) -> None:
        """One more worker if calls wait and none is idle (the lock held)."""
        if not self._stopped and self._pending > self._idle and self._threads < self._workers:
            self._threads += 1
            threading.Thread(
                target=self._work, name=f"hypervisor {self.name} call", daemon=True
            ).start()

    def stop(self) -> None:
        """The workers end once the calls queued before are done (a stuck one when its call
        returns); a later call fails at once."""
        with self._lock:
            self._stopped = True
            for _ in range(self._threads):
                self._queue.put(None)
            self._threads = 0

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
                if item is None:  # stopped
                    return
                self._pending -= 1
            call, future = item
            if not future.set_running_or_notify_cancel():
                continue  # nobody waits for it any more
            try:
                future.set_result(call())
            except BaseException as error:  # handed to whoever waits on the future
                future.set_exception(error)
