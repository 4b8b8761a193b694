"""A real guest's console through the whole pipeline: REST -> websockify -> console process ->
libvirt stream -> QEMU serial port -> busybox shell."""

from __future__ import annotations

import time

from .consoles import SEQ_TIMEOUT, answer_42, open_console, shell, wait_boot
from .guests import BOOT_LINE, DUAL, prompt


def test_boot_line_then_shell_answers(host, connect, new_guest):
    """Opened while the guest is paused, the console shows the boot from its first line."""
    guest = new_guest(boot=False)
    console = open_console(host, connect, guest)
    host.wait_session_state("connected", guest.name)
    guest.domain.resume()
    wait_boot(console, BOOT_LINE)
    answer_42(console)


def test_seq_20000_arrives_byte_exact(host, connect, module_guest):
    console = open_console(host, connect, module_guest)
    shell(console)
    console.send("seq 20000\r")
    received = console.read_until(b"\r\n20000\r\n", SEQ_TIMEOUT)
    expected = b"\r\n" + "".join(f"{i}\r\n" for i in range(1, 20001)).encode()
    assert received.endswith(expected)
    console.read_until(prompt(0))
    answer_42(console)


def test_reboot_keeps_the_console(host, connect, module_guest):
    console = open_console(host, connect, module_guest)
    shell(console)
    pid = host.wait_session_state("connected", module_guest.name)["pid"]
    console.send("reboot\r")
    wait_boot(console, BOOT_LINE)
    answer_42(console)
    assert host.wait_session_state("connected", module_guest.name)["pid"] == pid


def test_guest_list_reads_states_and_devices(host, module_guest, new_guest):
    dual = new_guest(DUAL, boot=False)
    listed = {guest["name"]: guest for guest in host.get("vms").json()}
    guest = listed[module_guest.name]
    assert {key: guest[key] for key in ("name", "uuid", "state", "consoles")} == {
        "name": module_guest.name,
        "uuid": module_guest.uuid,
        "state": "running",
        "consoles": [{"alias": "serial0", "type": "pty"}],
    }
    assert guest["rights"] == ["view", "console", "takeover", "power", "audit"]  # no rules
    assert listed[dual.name]["state"] == "paused"
    assert listed[dual.name]["consoles"] == [
        {"alias": "serial0", "type": "pty"},
        {"alias": "serial1", "type": "pty"},
    ]
    assert host.get(f"vms/{dual.uuid}").json() == listed[dual.name]


def test_open_to_prompt_time(host, connect, module_guest):
    """Not a limit, a figure: POST to the first prompt on the WebSocket."""
    started = time.monotonic()
    console = open_console(host, connect, module_guest)
    shell(console)
    print(f"\nreal guest: POST -> prompt {1000 * (time.monotonic() - started):.1f} ms")
