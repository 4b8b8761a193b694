"""One client per console: a busy console answers 409; ``force`` takes it over and the
displaced client is told — whether it was a session of this host, ``virsh console`` or any
other libvirt client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.helpers import assert_final_line

from .consoles import answer_42, open_console, shell
from .virsh import CONNECTED, VirshConsole

IN_USE = "SCONS0003E"
TAKEN_OVER = "SCONS0107L"


@pytest.fixture
def virsh() -> Iterator[list[VirshConsole]]:
    started: list[VirshConsole] = []
    yield started
    for console in started:
        console.close()


def assert_in_use(host, guest) -> None:
    response = host.post(f"vms/{guest.name}/serial")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == IN_USE
    assert "already in use" in response.json()["reason"]


def test_busy_session_then_force_takes_over(host, connect, module_guest):
    first = open_console(host, connect, module_guest)
    shell(first)
    assert_in_use(host, module_guest)
    second = open_console(host, connect, module_guest, force=True)
    assert_final_line(first.read_until_close(), TAKEN_OVER)
    shell(second)
    answer_42(second)


def test_busy_virsh_console_then_force_takes_over(host, connect, module_guest, virsh):
    holder = VirshConsole(module_guest.name)
    virsh.append(holder)
    holder.read_until(CONNECTED)
    assert_in_use(host, module_guest)
    console = open_console(host, connect, module_guest, force=True)
    holder.wait_exit()
    shell(console)
    answer_42(console)


def test_force_from_another_client_tells_the_session(host, connect, module_guest):
    console = open_console(host, connect, module_guest)
    shell(console)
    other = module_guest.direct_console(force=True)
    try:
        assert_final_line(console.read_until_close(), TAKEN_OVER)
        other.send("\r")
        other.read_until(b"ttyS0# ")
    finally:
        other.close()


def test_virsh_force_takes_over_a_session(host, connect, module_guest, virsh):
    console = open_console(host, connect, module_guest)
    shell(console)
    taker = VirshConsole(module_guest.name, force=True)
    virsh.append(taker)
    taker.read_until(CONNECTED)
    assert_final_line(console.read_until_close(), TAKEN_OVER)
