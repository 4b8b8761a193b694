"""Consoles end to end: REST open -> WebSocket -> simulated guest, and how sessions end."""

from __future__ import annotations

import os
import struct
import time

import websocket

from .helpers import (
    PROMPT,
    UNICODE_GUEST,
    WS_TIMEOUT,
    assert_final_line,
    assert_pid_gone,
    expect_refused,
)


def open_and_connect(host, connect, guest: str = "mock-vm", **body):
    opened = host.open(guest, **body)
    console = connect(opened["ws_url"])
    return opened, console


def test_open_to_first_byte(host, connect):
    started = time.monotonic()
    opened = host.open("mock-vm")
    console = connect(opened["ws_url"])
    first = console.first_byte()
    elapsed = time.monotonic() - started
    assert first
    print(f"\nopen -> first WebSocket byte: {elapsed * 1000:.1f} ms")
    console.banner()


def test_banner_and_echo(host, connect):
    _, console = open_and_connect(host, connect)
    banner = console.banner()
    assert banner == b"\r\nSimulated serial console of guest mock-vm. Type 'help'.\r\n# "
    console.send("echo hello\r")
    assert console.read_until(PROMPT) == b"echo hello\r\nhello\r\n# "


def test_unicode_guest_banner(host, connect):
    _, console = open_and_connect(host, connect, UNICODE_GUEST)
    expected = f"\r\nSimulated serial console of guest {UNICODE_GUEST}. Type 'help'.\r\n# "
    assert console.banner() == expected.encode("utf-8")


def test_unicode_echo_byte_exact(host, connect):
    _, console = open_and_connect(host, connect)
    console.banner()
    console.send("echo ünï 虚拟\r".encode())
    expected = "echo ünï 虚拟\r\nünï 虚拟\r\n# ".encode()
    assert console.read_until(PROMPT) == expected


def test_unicode_input_split_inside_characters(host, connect):
    """A multi-byte character split across WebSocket frames still arrives whole."""
    _, console = open_and_connect(host, connect)
    console.banner()
    typed = "echo 虚拟机\r".encode()
    for start in range(0, len(typed), 2):
        console.send(typed[start : start + 2])
    assert console.read_until(b"\r\n# ") == "echo 虚拟机\r\n虚拟机\r\n# ".encode()


def test_seq_50000_byte_exact(host, connect):
    _, console = open_and_connect(host, connect)
    console.banner()
    console.send("seq 50000\r")
    expected = b"seq 50000\r\n" + "".join(f"{i}\r\n" for i in range(1, 50001)).encode() + PROMPT
    received = console.read_until(b"\r\n50000\r\n# ", timeout=20)
    assert len(received) == len(expected)
    assert received == expected
    console.send("echo done\r")
    assert console.read_until(PROMPT) == b"echo done\r\ndone\r\n# "


def test_session_waiting_then_connected(host, connect):
    opened = host.open("mock-vm")
    (session,) = host.sessions()
    assert session["state"] == "waiting"
    assert (session["guest"], session["device"]) == ("mock-vm", "serial0")
    assert session["uuid"] == "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001"
    assert isinstance(session["pid"], int) and session["pid"] > 0
    assert isinstance(session["since"], str) and session["since"][:2] == "20"
    os.kill(session["pid"], 0)  # the console process runs
    console = connect(opened["ws_url"])
    console.banner()
    connected = host.wait_session_state("connected")
    assert connected["pid"] == session["pid"]
    assert len(host.sessions()) == 1


def test_delete_while_connected(host, connect):
    opened, console = open_and_connect(host, connect)
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    response = host.close("mock-vm")
    assert response.status_code == 204
    # DELETE returns once the session is cleaned up: nothing is left already.
    assert host.sessions() == []
    host.assert_dirs_empty()
    assert_pid_gone(pid)
    data = console.read_until_close()
    assert_final_line(data, "SCONS0106L", "The session was ended by an operator.")
    host.assert_idle()


def test_delete_before_connect_revokes_token(host, connect):
    opened = host.open("mock-vm")
    (session,) = host.sessions()
    assert host.close("mock-vm").status_code == 204
    assert host.sessions() == []
    host.assert_dirs_empty()
    assert_pid_gone(session["pid"])
    expect_refused(opened["ws_url"])


def test_ctrl_q_ends_session(host, connect):
    _, console = open_and_connect(host, connect)
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    console.send(b"\x11")
    data = console.read_until_close()
    assert_final_line(data, "SCONS0102L", "Disconnected (Ctrl+Q).")
    host.assert_idle()
    assert_pid_gone(pid)
    # the device is free again
    _, again = open_and_connect(host, connect)
    again.send("echo again\r")
    assert again.read_until(b"again\r\n# ").endswith(b"echo again\r\nagain\r\n# ")


def test_ctrl_q_after_typed_text(host, connect):
    """Text before Ctrl+Q in the same frame reaches the guest; the session ends anyway."""
    _, console = open_and_connect(host, connect)
    console.banner()
    console.send(b"echo x\x11echo never\r")
    data = console.read_until_close()
    assert b"never" not in data
    assert_final_line(data, "SCONS0102L")
    host.assert_idle()


def test_client_close_detaches_the_session(host, connect):
    """Without Ctrl+Q the console waits for a writer to reattach (``test_reattach``)."""
    _, console = open_and_connect(host, connect)
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    console.close()
    assert host.wait_session_state("detached")["pid"] == pid
    host.assert_dirs_empty()  # nothing to connect to without a new token
    assert host.close("mock-vm").status_code == 204
    host.assert_idle()
    assert_pid_gone(pid)


def test_help_and_unknown_command(host, connect):
    _, console = open_and_connect(host, connect)
    console.banner()
    console.send("help\r")
    assert console.read_until(PROMPT) == (
        b"help\r\ncommands: echo ARGS, seq N, sha256sum (input ends with Ctrl+D), help, poweroff"
        b"\r\n# "
    )
    console.send("frobnicate\r")
    assert console.read_until(PROMPT) == b"frobnicate\r\nsh: frobnicate: not found\r\n# "


def test_message_over_1_mib_closes_with_1009(host, connect):
    """README: a WebSocket message over 1 MiB is refused with close code 1009 (not a reset,
    which a client cannot tell from a network fault)."""
    _, console = open_and_connect(host, connect)
    console.banner()
    console.send(b"x" * (1024 * 1024 + 1))
    console.ws.settimeout(WS_TIMEOUT)
    while (frame := console.ws.recv_data(control_frame=True))[0] != websocket.ABNF.OPCODE_CLOSE:
        pass
    assert struct.unpack(">H", frame[1][:2]) == (1009,), frame
