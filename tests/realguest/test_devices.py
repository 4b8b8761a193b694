"""Console devices chosen by alias on a guest with two serial ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .consoles import answer_42, open_console, shell
from .daemons import URI
from .guests import DUAL, TinyGuest


@pytest.fixture(scope="module")
def dual_guest(guest_dir) -> Iterator[TinyGuest]:
    guest = TinyGuest(URI, guest_dir / DUAL, "dual")
    try:
        yield guest.boot()
    finally:
        guest.destroy()


def test_each_alias_reaches_its_port(host, connect, dual_guest):
    second = open_console(host, connect, dual_guest, device="serial1")
    first = open_console(host, connect, dual_guest, device="serial0")
    shell(second, port=1)
    shell(first, port=0)
    answer_42(second, port=1)
    answer_42(first, port=0)
    devices = sorted(s["device"] for s in host.sessions() if s["guest"] == dual_guest.name)
    assert devices == ["serial0", "serial1"]


def test_default_device_is_the_first_console(host, connect, dual_guest):
    opened = host.open(dual_guest.name)
    assert opened["device"] == "serial0"
    shell(connect(opened["ws_url"]), port=0)


def test_unknown_alias_is_refused(host, dual_guest):
    response = host.post(f"vms/{dual_guest.name}/serial", json={"device": "serial7"})
    assert response.status_code == 400
    assert response.json()["code"] == "SCONS0004E"
