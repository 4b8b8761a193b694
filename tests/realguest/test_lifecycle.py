"""How a real guest's console ends: poweroff inside the guest, ``virsh destroy``, a libvirtd
restart; each leaves no process, socket or token behind."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.integration.helpers import assert_final_line, wait_for

from .consoles import answer_42, open_console, shell
from .daemons import URI
from .guests import BOOT_TIMEOUT

GUEST_STOPPED = "SCONS0104L"
HYPERVISOR_UNREACHABLE = "SCONS0132L"  # its connection to libvirtd closed
RECONNECT_BOUND = 10.0  # libvirtd answering again, then at most a few retries apart


def test_poweroff_inside_the_guest_ends_the_session(host, connect, new_guest):
    guest = new_guest()
    console = open_console(host, connect, guest)
    shell(console)
    console.send("poweroff\r")
    assert_final_line(console.read_until_close(BOOT_TIMEOUT), GUEST_STOPPED)
    host.assert_idle()
    assert not guest.active()


def test_virsh_destroy_ends_the_session(host, connect, new_guest):
    guest = new_guest()
    console = open_console(host, connect, guest)
    shell(console)
    subprocess.run(["virsh", "-c", URI, "destroy", guest.name], check=True, capture_output=True)
    assert_final_line(console.read_until_close(), GUEST_STOPPED)
    host.assert_idle()


def test_libvirtd_restart_then_a_new_console_opens(host, connect, module_guest, libvirt_daemons):
    if not libvirt_daemons.started:
        pytest.skip("libvirtd was not started by the test suite; it is not restarted")
    console = open_console(host, connect, module_guest)
    shell(console)
    libvirt_daemons.restart_libvirtd()
    restarted = time.monotonic()
    assert_final_line(console.read_until_close(), HYPERVISOR_UNREACHABLE)
    host.assert_idle()
    # the host's shared connection is re-opened in the background, not by a request
    wait_for(
        lambda: host.get("hypervisors").json()[0]["state"] == "connected",
        RECONNECT_BOUND,
        "the host connected to libvirtd again",
    )
    listed = host.get("vms")
    assert listed.status_code == 200, listed.text
    assert module_guest.name in [guest["name"] for guest in listed.json()]
    console = open_console(host, connect, module_guest)
    shell(console)
    answer_42(console)
    recovery = time.monotonic() - restarted
    print(f"\nlibvirtd restarted -> new console answering: {recovery:.2f} s")
