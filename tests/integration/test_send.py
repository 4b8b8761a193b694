"""Sending to the guest what cannot be typed, and the escape key (issue 17), on the mock
model: the simulated guest's kernel answers SysRq keys and NMIs as Linux prints them."""

from __future__ import annotations

import pytest

from .helpers import PROMPT, assert_final_line

SEND = "vms/mock-vm/send"


def send(host, body, guest: str = "mock-vm"):
    return host.post(f"vms/{guest}/send", json=body)


def writer(host, connect, **body):
    console = connect(host.open(**body)["ws_url"])
    console.banner()
    return console


def test_sysrq_help_is_printed_by_the_guests_kernel_and_the_answer_says_what_was_sent(
    host, connect
):
    console = writer(host, connect)
    response = send(host, {"action": "sysrq", "key": "h"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "guest": "mock-vm",
        "action": "sysrq",
        "key": "h",
        "sent": "SysRq+h (help)",
    }
    line = console.read_until(b"dump-ftrace-buffer(z)\r\n")
    assert b"] sysrq: HELP : loglevel(0-9) reboot(b) crash(c)" in line


def test_sysrq_show_memory_and_an_nmi_reach_a_viewer_too(host, connect):
    console = writer(host, connect)
    viewer = connect(host.open(mode="view")["ws_url"])
    viewer.banner()
    assert send(host, {"action": "sysrq", "key": "m"}).json()["sent"] == (
        "SysRq+m (show-memory-usage)"
    )
    for client in (console, viewer):
        assert b"sysrq: Show Memory\r\n" in client.read_until(b"Mem-Info:")
    assert send(host, {"action": "nmi"}).json() == {
        "guest": "mock-vm",
        "action": "nmi",
        "sent": "NMI",
    }
    for client in (console, viewer):
        client.read_until(b"NMI received for unknown reason 30 on CPU 0.")
    # The guest goes on: typing still works.
    console.send("echo alive\r")
    assert console.read_until(b"alive\r\n# ").endswith(b"alive\r\n# ")


def test_ctrl_alt_del_reboots_the_simulated_guest(host, connect):
    console = writer(host, connect)
    assert send(host, {"action": "ctrl-alt-del"}).json()["sent"] == "Ctrl+Alt+Del"
    out = console.read_until(b"Type 'help'.\r\n# ")
    assert b"The system is going down NOW!" in out


def test_a_control_key_goes_through_the_console_past_the_escape_key(host, connect):
    console = writer(host, connect)
    response = send(host, {"action": "control", "key": "Q"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "guest": "mock-vm",
        "action": "control",
        "key": "Q",
        "device": "serial0",
        "sent": "Ctrl+Q",
    }
    assert console.read_until(b"^Q") == b"^Q"  # the guest's tty echoes it; no session end
    console.send("echo still here\r")
    assert console.read_until(PROMPT).endswith(b"still here\r\n# ")


def test_a_control_key_needs_an_open_console(host):
    response = send(host, {"action": "control", "key": "C"})
    assert response.status_code == 409
    assert response.json()["code"] == "SCONS0064E"


def test_break_is_refused_unless_the_config_allows_it(host, connect):
    writer(host, connect)
    response = send(host, {"action": "break"})
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "SCONS0062E"
    assert "allow_break" in body["reason"]
    assert "break" not in host.get(SEND).json()["actions"]


def test_break_then_a_key_is_sysrq_on_the_serial_line_when_allowed(start_host, connect):
    host = start_host("--allow-break")
    console = writer(host, connect)
    assert host.get(SEND).json()["actions"] == [
        "sysrq",
        "nmi",
        "ctrl-alt-del",
        "break",
        "control",
    ]
    response = send(host, {"action": "break"})
    assert response.json() == {
        "guest": "mock-vm",
        "action": "break",
        "device": "serial0",
        "sent": "Break",
    }
    console.send("s")  # taken as SysRq+s by the serial driver, never echoed
    out = console.read_until(b"Emergency Sync complete\r\n")
    assert b"sysrq: Emergency Sync" in out
    console.send("echo s\r")
    assert console.read_until(PROMPT).endswith(b"echo s\r\ns\r\n# ")


@pytest.mark.parametrize(
    "body",
    [
        {"action": "sysrq", "key": "x"},
        {"action": "sysrq"},
        {"action": "sysrq", "key": "h", "device": "serial0"},
        {"action": "nmi", "key": "h"},
        {"action": "reboot"},
        {"action": "control", "key": "q"},
        {"action": "control", "key": "QQ"},
        {"action": "break", "key": "h"},
        {},
        {"action": "nmi", "extra": 1},
    ],
)
def test_bad_send_bodies_are_refused_with_the_schemas_reason(host, body):
    response = send(host, body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "SCONS0007E"


def test_a_stopped_guest_gets_nothing(host):
    response = send(host, {"action": "nmi"}, guest="mock-off")
    assert response.status_code == 409
    assert response.json()["code"] == "SCONS0002E"


def test_a_guest_without_a_console_still_gets_an_nmi_but_no_control_key(host):
    assert send(host, {"action": "nmi"}, guest="mock-noserial").json()["sent"] == "NMI"
    response = send(host, {"action": "control", "key": "C"}, guest="mock-noserial")
    assert response.status_code == 400
    assert response.json()["code"] == "SCONS0005E"


def test_an_unknown_guest_is_404(host):
    response = send(host, {"action": "nmi"}, guest="no-such-guest")
    assert response.status_code == 404
    assert response.json()["code"] == "SCONS0001E"


def test_send_options_list_the_kernels_sysrq_keys(host):
    options = host.get(SEND).json()
    assert options["sysrq_keys"]["h"] == "help"
    assert {"b", "c", "nmi", "ctrl-alt-del"} <= set(options["destructive"])
    assert "]" in options["control_keys"] and "Q" in options["control_keys"]


# The escape key --------------------------------------------------------------


def test_with_ctrl_bracket_as_escape_ctrl_q_reaches_the_guest(host, connect):
    opened = host.open(escape="ctrl-]")
    assert opened["escape"] == "ctrl-]"
    assert "&escape=ctrl-%5D#ws=" in opened["page"]  # the page shows the right key
    console = connect(opened["ws_url"])
    console.banner()
    console.send(b"\x11")
    assert console.read_until(b"^Q") == b"^Q"
    console.send(b"\x1d")
    assert_final_line(console.read_until_close(), "SCONS0120L", "Disconnected (Ctrl+]).")


def test_with_no_escape_key_only_closing_ends_the_session(host, connect):
    console = writer(host, connect, escape="none")
    console.send(b"\x11\x1d")
    assert console.read_until(b"^Q^]") == b"^Q^]"
    assert host.close().status_code == 204
    assert_final_line(console.read_until_close(), "SCONS0106L")


def test_the_configured_escape_key_is_every_pages_default(start_host, connect):
    host = start_host("--escape-key", "ctrl-]")
    opened = host.open()
    assert opened["escape"] == "ctrl-]"
    console = connect(opened["ws_url"])
    console.banner()
    console.send(b"\x11")
    assert console.read_until(b"^Q") == b"^Q"
    # A viewer's escape key is the configured one as well.
    viewer = connect(host.open(mode="view")["ws_url"])
    viewer.banner()
    viewer.send(b"\x1d")
    assert_final_line(viewer.read_until_close(), "SCONS0120L")


def test_an_unknown_escape_key_is_refused(host):
    response = host.post("vms/mock-vm/serial", json={"escape": "ctrl-x"})
    assert response.status_code == 400
    assert response.json()["code"] == "SCONS0007E"
