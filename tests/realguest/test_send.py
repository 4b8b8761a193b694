"""Send to a real guest (issue 17): SysRq through virDomainSendKey, an NMI through
virDomainInjectNMI, a Break over QEMU's monitor; the guest's kernel answers on its serial
console, read through the plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.helpers import Host, shared_host

from .consoles import SHELL_TIMEOUT, open_console, shell
from .daemons import URI

KERNEL_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def module_host(libvirt_daemons) -> Iterator[Host]:
    """This module's host allows a Break (it taints the guest, which is thrown away)."""
    yield from shared_host("--allow-break", source=("--uri", URI))


def send(host: Host, guest, body: dict) -> dict:
    response = host.post(f"vms/{guest.name}/send", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_sysrq_h_makes_the_kernel_print_its_sysrq_help(host, connect, module_guest):
    console = open_console(host, connect, module_guest)
    shell(console)
    answer = send(host, module_guest, {"action": "sysrq", "key": "h"})
    assert answer["sent"] == "SysRq+h (help)"
    help_text = console.read_until(b"sysrq: HELP : ", KERNEL_TIMEOUT)
    line = console.read_until(b"\n", KERNEL_TIMEOUT)
    assert b"reboot(b)" in line and b"show-memory-usage(m)" in line, help_text + line
    # The tiny guest's kernel allows every key (sysrq_always_enabled), not just Debian's few.
    send(host, module_guest, {"action": "sysrq", "key": "m"})
    console.read_until(b"sysrq: Show Memory", KERNEL_TIMEOUT)


def test_an_nmi_is_delivered_and_the_kernel_logs_it(host, connect, module_guest):
    console = open_console(host, connect, module_guest)
    shell(console)
    assert send(host, module_guest, {"action": "nmi"})["sent"] == "NMI"
    console.read_until(b"NMI received for unknown reason", KERNEL_TIMEOUT)
    shell(console)  # the guest goes on


def test_break_then_a_key_is_sysrq_on_the_serial_console(host, connect, module_guest):
    console = open_console(host, connect, module_guest)
    shell(console)
    answer = send(host, module_guest, {"action": "break"})
    assert (answer["sent"], answer["device"]) == ("Break", "serial0")
    console.send("h")  # within the kernel's 5 s: taken as SysRq+h, never reaches the shell
    console.read_until(b"sysrq: HELP : ", KERNEL_TIMEOUT)
    console.send("echo after-break\r")
    console.read_until(b"\r\nafter-break\r\n", SHELL_TIMEOUT)


def test_a_control_key_reaches_the_guests_shell(host, connect, module_guest):
    console = open_console(host, connect, module_guest)
    shell(console)
    console.send("echo abc")
    console.read_until(b"echo abc", SHELL_TIMEOUT)
    answer = send(host, module_guest, {"action": "control", "key": "U"})
    assert answer["sent"] == "Ctrl+U"
    # Ctrl+U erased the line typed so far: only the second command runs.
    console.send("echo def\r")
    console.read_until(b"echo def\r\n", SHELL_TIMEOUT)  # the shell's echo of the line
    out = console.read_until(b"# ", SHELL_TIMEOUT)
    assert out.split(b"\r\n")[0] == b"def", out  # not "abcecho def"
