"""A libvirtd that never answers cannot keep a console process from ending (issue 15's
flake: after a forced takeover ``isActive`` got no reply and ``stop`` was ignored)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from plugin_serialconsole.console import libvirt_calls
from plugin_serialconsole.console.libvirt_calls import LibvirtCallTimeout, off_loop
from plugin_serialconsole.console.libvirt_stream import LibvirtConsole
from plugin_serialconsole.consoles import Reason

HANG = 5.0  # how long the fake libvirtd keeps a call waiting (bounded: the test must end)


class HangingDomain:
    """A domain whose ``isActive`` gets no answer until ``answer`` is set."""

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.returned = threading.Event()

    def isActive(self) -> int:  # noqa: N802 (libvirt's name)
        self.answer.wait(HANG)
        self.returned.set()
        return 1


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    monkeypatch.setattr(libvirt_calls, "LIBVIRT_CALL_TIMEOUT", 0.5)


def test_a_call_that_never_returns_is_given_up_and_the_loop_runs_on():
    domain = HangingDomain()

    async def scenario() -> None:
        served = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, served.set)
        with pytest.raises(LibvirtCallTimeout):
            await off_loop(domain.isActive)
        assert served.is_set() and not domain.returned.is_set()

    asyncio.run(scenario())
    domain.answer.set()


def test_recovery_with_an_unanswered_is_active_ends_the_console_while_it_hangs():
    domain = HangingDomain()

    async def scenario() -> None:
        console = LibvirtConsole("qemu:///system", "U", "serial0")
        console._guest._domain = domain
        console._stream_failed("stream had I/O failure")  # e.g. forced away by virsh
        ended = await asyncio.wait_for(console.read(), 2 * HANG)
        assert ended == b""  # the console ends...
        assert not domain.returned.is_set()  # ...while libvirt still has not answered
        assert console.end_reason[0] == Reason.CONSOLE_CLOSED
        console.close()

    try:
        asyncio.run(scenario())
    finally:
        domain.answer.set()
