"""A hypervisor that stops answering (issue 16): the console process's own connection has
the host's keepalive, its loss ends the console with a last line naming the hypervisor
(never its credentials), and the host ends that hypervisor's sessions when its shared
connection breaks. libvirt is faked here; tests/multihv pulls a real link."""

from __future__ import annotations

import asyncio
import threading

import libvirt
import pytest

from plugin_serialconsole import i18n
from plugin_serialconsole.console import protocol
from plugin_serialconsole.console.libvirt_stream import LibvirtConsole
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.host.connection import CONNECTED, UNREACHABLE, HypervisorConnection
from plugin_serialconsole.libvirtloop import KEEPALIVE
from plugin_serialconsole.model.hypervisor_loss import HypervisorLoss

from .libvirt_fakes import FakeConnection

TIMEOUT = 5.0
SECRET_URI = "qemu+tls://hv1.example.org/system?pkipath=/secret/pki"
SHOWN_URI = "qemu+tls://hv1.example.org/system?pkipath=***"
UUID = "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001"


def opened_console(conn: FakeConnection) -> LibvirtConsole:
    console = LibvirtConsole(SECRET_URI, UUID, "serial0", opener=lambda uri: conn)
    console.open()
    return console


def unreachable_line(console: LibvirtConsole) -> str:
    reason, params = console.end_reason
    assert reason == Reason.HYPERVISOR_UNREACHABLE, console.end_reason
    return i18n.translate(reason.message_code, params)


def test_the_console_connection_has_the_same_keepalive_as_the_hosts():
    conn = FakeConnection(UUID)

    async def scenario() -> None:
        opened_console(conn).close()

    asyncio.run(scenario())
    assert conn.keepalive == (KEEPALIVE.interval, KEEPALIVE.count)


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE, "no answer to keepalive probes"),
        (libvirt.VIR_CONNECT_CLOSE_REASON_EOF, "the hypervisor closed the connection"),
    ],
)
def test_a_connection_closed_by_libvirt_ends_the_console_naming_the_hypervisor(reason, why):
    conn = FakeConnection(UUID)

    async def scenario() -> str:
        console = opened_console(conn)
        conn.closed_by_libvirt(reason)
        assert await asyncio.wait_for(console.read(), TIMEOUT) == b""
        console.close()
        return unreachable_line(console)

    line = asyncio.run(scenario())
    assert line == f"The hypervisor {SHOWN_URI} is unreachable: {why}"
    assert "/secret/pki" not in line


def test_a_stream_failing_before_the_close_callback_still_says_the_hypervisor_is_gone():
    """The stream's error may come before libvirt reports the connection closed: the
    recovery's call then fails on a dead connection."""
    conn = FakeConnection(UUID)

    async def scenario() -> str:
        console = opened_console(conn)
        conn.alive = False
        console._stream_failed("stream had I/O failure")  # libvirt's stream event
        assert await asyncio.wait_for(console.read(), TIMEOUT) == b""
        console.close()
        return unreachable_line(console)

    line = asyncio.run(scenario())
    assert line.startswith(f"The hypervisor {SHOWN_URI} is unreachable: ")


def test_a_stop_line_carries_the_parameters_of_its_reason():
    why = {"hypervisor": SHOWN_URI, "error": "no answer to keepalive probes"}
    line = protocol.encode(protocol.STOP, reason=Reason.HYPERVISOR_UNREACHABLE, params=why)
    assert protocol.parse_stop(protocol.decode(line)) == (Reason.HYPERVISOR_UNREACHABLE, why)
    bad = protocol.encode(protocol.STOP, reason=Reason.HOST_STOPPING, params={"n": 1})
    assert protocol.parse_stop(protocol.decode(bad)) is None


class RecordingSessions:
    def __init__(self) -> None:
        self.ended: list[tuple[str, dict]] = []
        self.done = threading.Event()

    def end_hypervisor(self, name: str, /, **params: str) -> int:
        self.ended.append((name, params))
        self.done.set()
        return 1


class HostConnection(FakeConnection):
    def numOfDomains(self) -> int:  # noqa: N802
        return 1

    def numOfDefinedDomains(self) -> int:  # noqa: N802
        return 0


def test_the_host_ends_a_lost_hypervisors_sessions_once_from_its_state_change():
    conn = HostConnection(UUID)
    hypervisor = HypervisorConnection("hv1", SECRET_URI, lambda uri: conn)
    sessions = RecordingSessions()
    heard: list[str] = []
    hypervisor.add_listener(lambda state: heard.append(state.state))
    hypervisor.add_listener(HypervisorLoss(sessions).changed)
    hypervisor.start()
    try:
        assert hypervisor.wait_state(CONNECTED, TIMEOUT)
        conn.closed_by_libvirt(libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE)
        assert sessions.done.wait(TIMEOUT)  # (and it reconnects, here at once)
    finally:
        hypervisor.stop()
    why = {"hypervisor": SHOWN_URI, "error": "no answer to keepalive probes"}
    assert sessions.ended == [("hv1", why)]
    assert heard[:2] == [CONNECTED, UNREACHABLE]
