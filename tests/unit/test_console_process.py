"""The console process, run for real on the simulated guest, driven over its socket and pipes."""

from __future__ import annotations

import signal
import socket
import stat

import pytest

from .conftest import assert_ended, connected, ready

TTL_TO_OUTLIVE = 2.0  # seconds: a loaded machine's stall between READY and the connect fits


def test_ready_socket_is_private_and_a_socket(console_process):
    process = ready(console_process())
    mode = process.socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_client_gets_echo_and_command_output(console_process):
    process = console_process()
    client = connected(process)
    client.sendall(b"echo hi\r")
    assert process.recv_until(client, b"hi\r\n# ") == b"echo hi\r\nhi\r\n# "


def test_ctrl_q_disconnects(console_process):
    process = console_process()
    client = connected(process)
    client.sendall(b"echo hi\r")
    process.recv_until(client, b"hi\r\n# ")
    client.sendall(b"\x11")
    rest = assert_ended(process, client, "ctrl-q")
    assert b"Disconnected (Ctrl+Q)." in rest


def test_input_before_ctrl_q_in_same_packet_reaches_guest(console_process):
    process = console_process()
    client = connected(process)
    client.sendall(b"xy\x11ignored\r")
    rest = assert_ended(process, client, "ctrl-q")
    assert rest.startswith(b"xy")
    assert b"ignored" not in rest


def test_stop_from_host_ends_session(console_process):
    process = console_process()
    client = connected(process)
    process.send_stdin(b'{"event":"stop","reason":"operator-ended"}\n')
    rest = assert_ended(process, client, "operator-ended")
    assert b"ended by an operator" in rest


def test_garbage_on_stdin_is_ignored(console_process):
    process = console_process()
    client = connected(process)
    process.send_stdin(
        b'not json\n{"event":"stop","reason":"NOPE"}\n{"event":"stop","code":"SCONS0106L"}\n[1]\n'
    )
    client.sendall(b"echo still\r")
    assert process.recv_until(client, b"still\r\n# ").endswith(b"still\r\n# ")
    process.send_stdin(b'{"event":"stop","reason":"taken-over"}\n')
    assert_ended(process, client, "taken-over")


def test_stop_with_a_parameterised_reason_still_ends_cleanly(console_process):
    # watch_host accepts any reason; idle's message needs %(seconds)s.
    process = console_process()
    client = connected(process)
    process.send_stdin(b'{"event":"stop","reason":"idle"}\n')
    assert_ended(process, client, "idle")


def test_host_eof_on_stdin_ends_session(console_process):
    process = console_process()
    client = connected(process)
    process.proc.stdin.close()
    assert_ended(process, client, "host-stopping")


def test_sigterm_ends_session(console_process):
    process = console_process()
    client = connected(process)
    process.proc.send_signal(signal.SIGTERM)
    assert_ended(process, client, "host-stopping")


def test_sigterm_before_any_client(console_process):
    process = ready(console_process())
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    assert process.event()["reason"] == "host-stopping"
    assert not process.socket_path.exists()


def test_nobody_connecting_ends_session(console_process):
    process = ready(console_process(token_ttl=0.5))
    assert process.event() == {"event": "expired", "socket": "c", "mode": "write"}
    event = process.event()
    assert event["event"] == "ended"
    assert event["reason"] == "nobody-came"
    assert process.wait() == 0
    assert not process.socket_path.exists()


def test_idle_client_is_disconnected(console_process):
    process = console_process(idle_timeout=0.5)
    client = connected(process)
    rest = assert_ended(process, client, "idle")
    assert b"No activity" in rest


def test_accept_timeout_does_not_end_a_connected_session(console_process):
    # The client must connect within the TTL, from the process's READY on: 0.4 s was a
    # race with the scheduler of a busy machine (the token expired first).
    process = console_process(token_ttl=TTL_TO_OUTLIVE)
    client = connected(process)
    client.settimeout(TTL_TO_OUTLIVE + 0.2)
    with pytest.raises(TimeoutError):
        client.recv(1)
    client.sendall(b"echo late\r")
    assert process.recv_until(client, b"late\r\n# ").endswith(b"late\r\n# ")


def test_guest_poweroff_ends_session(console_process):
    process = console_process()
    client = connected(process)
    client.sendall(b"poweroff\r")
    rest = assert_ended(process, client, "guest-stopped")
    assert b"Power down" in rest
    assert b"The guest stopped." in rest


def test_client_closing_ends_session_without_grace(console_process):
    process = console_process()
    client = connected(process)
    client.close()
    assert process.wait() == 0
    assert process.event() == {"event": "left", "socket": "c", "mode": "write"}
    event = process.event()
    assert event == {"event": "ended", "reason": "client-closed", "params": {}}


def test_second_client_is_refused(console_process):
    process = console_process()
    client = connected(process)
    assert not process.socket_path.exists()
    second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with second, pytest.raises(OSError):
        second.settimeout(5)
        second.connect(str(process.socket_path))
    client.sendall(b"echo first\r")
    assert process.recv_until(client, b"first\r\n# ").endswith(b"first\r\n# ")


def test_large_output_reaches_client_in_order(console_process):
    process = console_process()
    client = connected(process)
    client.sendall(b"seq 50000\r")
    output = process.recv_until(client, b"\r\n50000\r\n# ", timeout=10)
    expected = "".join(f"{n}\r\n" for n in range(1, 50001)).encode()
    assert output == b"seq 50000\r\n" + expected + b"# "


def test_final_line_in_requested_language_falls_back_to_english(console_process):
    process = console_process(language="xx")
    client = connected(process)
    client.sendall(b"\x11")
    assert b"Disconnected (Ctrl+Q)." in assert_ended(process, client, "ctrl-q")
