"""Reattach with no lost output, and the grace period (issue 8), on the mock model."""

from __future__ import annotations

import time

from .helpers import (
    PROMPT,
    assert_final_line,
    assert_pid_gone,
    assert_unbroken_run,
    expect_refused,
    seq_bytes,
    seq_numbers,
    wait_for,
)

SEQ_LAST = 25_000  # about 164 KB of output: less than the 256 KiB ring


def test_abrupt_drop_mid_seq_then_reattach_loses_nothing(host, connect):
    first = connect(host.open()["ws_url"])
    banner = first.banner()
    pid = host.wait_session_state("connected")["pid"]
    first.send(f"seq {SEQ_LAST}\r")
    seen = first.read_until(b"\r\n5000\r\n") + bytes(first.buffer)
    last_seen = seq_numbers(seen)[-1]
    assert 5000 <= last_seen < SEQ_LAST
    # The client stops reading; the guest prints on to its prompt (the ring has more than
    # the client saw: all of it, which the reattach then replays).
    end = f"\r\n{SEQ_LAST}\r\n".encode() + PROMPT
    wait_for(lambda: host.transcript().content.endswith(end), 5.0, "the guest to finish seq")
    first.drop()
    assert host.wait_session_state("detached")["pid"] == pid

    started = time.monotonic()
    again = host.open()
    second = connect(again["ws_url"])
    second.first_byte()
    print(f"\nreattach: POST -> first byte {1000 * (time.monotonic() - started):.1f} ms")
    assert (again["reattached"], again["mode"]) == (True, "write")
    output = f"seq {SEQ_LAST}\r\n".encode() + seq_bytes(SEQ_LAST) + PROMPT
    assert again["replay_bytes"] == len(banner) + len(output)  # all of it
    received = second.read_until(f"\r\n{SEQ_LAST}\r\n".encode() + PROMPT, timeout=20)
    assert_unbroken_run(seq_numbers(received), last_seen + 1, SEQ_LAST)
    assert host.wait_session_state("connected")["pid"] == pid
    second.send("echo after\r")
    assert second.read_until(PROMPT) == b"echo after\r\nafter\r\n# "


def test_reattach_replays_exactly_the_recent_output(host, connect):
    opened = host.open()
    assert (opened["reattached"], opened["mode"]) == (False, "write")
    first = connect(opened["ws_url"])
    seen = first.banner()
    first.send("echo one\r")
    seen += first.read_until(PROMPT)
    first.close()  # a closed tab: WebSocket close, no Ctrl+Q
    host.wait_session_state("detached")
    (session,) = host.get("vms/mock-vm/serial").json()
    assert session["state"] == "detached"
    host.assert_dirs_empty()  # no socket, no token while nobody is invited
    expect_refused(opened["ws_url"])

    again = host.open()
    assert again["replay_bytes"] == len(seen)
    second = connect(again["ws_url"])
    assert second.read_until(b"one\r\n# ") == seen
    second.send("echo two\r")
    assert second.read_until(PROMPT) == b"echo two\r\ntwo\r\n# "


def test_a_pending_reattach_token_makes_the_console_in_use(host, connect):
    first = connect(host.open()["ws_url"])
    first.banner()
    first.drop()
    host.wait_session_state("detached")
    again = host.open()
    assert host.wait_session_state("waiting")
    response = host.post("vms/mock-vm/serial")
    assert (response.status_code, response.json()["code"]) == (409, "SCONS0003E")
    connect(again["ws_url"]).banner()
    host.wait_session_state("connected")


def test_force_on_a_detached_console_reattaches(host, connect):
    first = connect(host.open()["ws_url"])
    first.banner()
    pid = host.wait_session_state("connected")["pid"]
    first.drop()
    host.wait_session_state("detached")
    forced = host.open(force=True)
    assert forced["reattached"] is True
    connect(forced["ws_url"]).banner()
    assert host.wait_session_state("connected")["pid"] == pid


def test_nobody_back_within_the_grace_period_ends_the_process(start_host, connect):
    host = start_host("--reattach-grace", "1")
    opened = host.open()
    console = connect(opened["ws_url"])
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    console.drop()
    host.wait_session_state("detached")
    wait_for(lambda: host.sessions() == [], 5.0, "the grace period to end the session")
    host.assert_idle()
    assert_pid_gone(pid)
    host.wait_log("Nobody reattached within 1 second; console closed.")
    fresh = host.open()
    assert (fresh["reattached"], fresh["replay_bytes"]) == (False, 0)
    connect(fresh["ws_url"]).banner()


def test_an_unused_reattach_token_expires_then_the_grace_period_ends_it(start_host, connect):
    host = start_host("--reattach-grace", "0.5", "--token-ttl", "1")
    first = connect(host.open()["ws_url"])
    first.banner()
    first.drop()
    host.wait_session_state("detached")
    host.open()  # never used
    # The token holds the session past the grace period: it expires first, then the
    # grace period ends the session (the window in between is too short to poll for).
    expired = "mock-vm/serial0: write token expired unused"
    log = host.wait_log("Nobody reattached within 0.5 seconds")
    assert expired in log and log.index(expired) < log.index("Nobody reattached"), host.log()
    wait_for(lambda: host.sessions() == [], 6.0, "the session to end")
    host.assert_idle()


def test_grace_zero_ends_the_session_when_the_client_leaves(start_host, connect):
    host = start_host("--reattach-grace", "0")
    console = connect(host.open()["ws_url"])
    console.banner()
    pid = host.wait_session_state("connected")["pid"]
    console.close()
    wait_for(lambda: host.sessions() == [], 5.0, "the session to end")
    host.assert_idle()
    assert_pid_gone(pid)
    host.wait_log("ended: Console closed by the client.")


def test_ctrl_q_still_ends_at_once(host, connect):
    console = connect(host.open()["ws_url"])
    console.banner()
    console.send(b"\x11")
    assert_final_line(console.read_until_close(), "SCONS0102L")
    host.assert_idle()
