"""libvirt calls made off the console's event loop, each given up after a bounded time.

A libvirt call waits for libvirtd's answer; one that never comes (seen after a forced
takeover) must not keep the event loop, and with it ``stop`` from the host, waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

# Seconds a libvirt call of recovery or teardown may take before it is given up.
LIBVIRT_CALL_TIMEOUT = 10.0
_T = TypeVar("_T")


class LibvirtCallTimeout(Exception):
    """libvirt did not answer a call within ``LIBVIRT_CALL_TIMEOUT``."""


async def off_loop(call: Callable[..., _T], *args: Any) -> _T:
    """``call(*args)`` on a daemon thread, awaited for at most ``LIBVIRT_CALL_TIMEOUT``
    (a call that never returns then holds only its thread, which dies with the process)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = call(*args), None
        except Exception as failure:
            result, error = None, failure
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is ending
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="libvirt-call", daemon=True).start()
    try:
        return await asyncio.wait_for(future, LIBVIRT_CALL_TIMEOUT)
    except TimeoutError:
        raise LibvirtCallTimeout(f"libvirt did not answer in {LIBVIRT_CALL_TIMEOUT:g} s") from None


def settled_in_time(work: Callable[[], None]) -> bool:
    """Run ``work`` on a daemon thread; False if it did not finish in time."""
    thread = threading.Thread(target=work, name="libvirt-close", daemon=True)
    thread.start()
    thread.join(LIBVIRT_CALL_TIMEOUT)
    return not thread.is_alive()
