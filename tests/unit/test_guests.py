"""Console devices read from domain XML, and choosing one."""

from __future__ import annotations

import pytest

from plugin_serialconsole.errors import SerialConsoleError
from plugin_serialconsole.model.guests import ConsoleDevice, Guest, console_devices


def domain(devices: str) -> str:
    return f"<domain type='test'><name>g</name><devices>{devices}</devices></domain>"


def test_serial_ports_are_named_like_libvirt_when_without_alias():
    xml = domain("<serial type='pty'/><serial type='tcp'><target port='1'/></serial>")
    assert console_devices(xml) == (
        ConsoleDevice("serial0", "pty"),
        ConsoleDevice("serial1", "tcp"),
    )


def test_compat_console_of_a_serial_port_is_not_listed_twice():
    xml = domain(
        "<serial type='pty'><target port='0'/><alias name='serial0'/></serial>"
        "<console type='pty'><target type='serial' port='0'/><alias name='serial0'/></console>"
    )
    assert console_devices(xml) == (ConsoleDevice("serial0", "pty"),)


def test_virtio_console_is_listed_with_its_alias():
    xml = domain(
        "<serial type='pty'/>"
        "<console type='pty'><target type='serial' port='0'/></console>"
        "<console type='pty'><target type='virtio' port='1'/><alias name='console1'/></console>"
    )
    assert [c.alias for c in console_devices(xml)] == ["serial0", "console1"]


def test_console_without_serial_port_is_listed():
    xml = domain("<console type='pty'><target type='virtio'/></console>")
    assert console_devices(xml) == (ConsoleDevice("console0", "pty"),)


def test_user_alias_wins():
    xml = domain("<serial type='pty'><alias name='ua-debug'/></serial>")
    assert console_devices(xml)[0].alias == "ua-debug"


def test_no_devices():
    assert console_devices("<domain><name>g</name></domain>") == ()
    assert console_devices(domain("")) == ()


GUEST = Guest(
    "g", "u", "running", (ConsoleDevice("serial0", "pty"), ConsoleDevice("serial1", "pty"))
)


def test_default_device_is_the_first():
    assert GUEST.device(None).alias == "serial0"
    assert GUEST.device("serial1").alias == "serial1"


def test_unknown_device_is_a_400_naming_the_choices():
    with pytest.raises(SerialConsoleError) as raised:
        GUEST.device("serial7")
    assert (raised.value.code, raised.value.status) == ("SCONS0004E", 400)
    assert "serial0, serial1" in raised.value.reason()


def test_guest_without_devices_is_a_400():
    with pytest.raises(SerialConsoleError) as raised:
        Guest("g", "u", "running", ()).device(None)
    assert (raised.value.code, raised.value.status) == ("SCONS0005E", 400)


@pytest.mark.parametrize(
    ("state", "live"), [("running", True), ("paused", True), ("shutoff", False), ("crashed", False)]
)
def test_running_states(state, live):
    assert Guest("g", "u", state, ()).running is live
