"""The proxy's report channel: a full pipe never blocks the proxy, lines stay whole and
bounded, and the host's reader hands each refusal on until the proxy is gone."""

from __future__ import annotations

import fcntl
import os
import threading

from plugin_serialconsole.bridge.reports import (
    MAX_HEADER,
    MAX_LINE,
    ORIGIN,
    UNKNOWN_TOKEN,
    Refusal,
    ReportReader,
    ReportWriter,
    forwarding,
    head_forwarding,
)

JOIN_TIMEOUT = 10.0
PIPE_SIZE = 4096  # the smallest a pipe can be made: one page


def report_one(writer: ReportWriter, peer: str = "192.0.2.7") -> None:
    writer.refused(UNKNOWN_TOKEN, 403, "SCONS0072E", peer, {"X-Forwarded-For": "198.51.100.1"})


def test_a_full_pipe_never_blocks_the_proxy_and_its_drops_are_counted():
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        writer = ReportWriter(write_end)
        os.write(write_end, b"x" * PIPE_SIZE)  # nobody reads: the pipe is full

        done = threading.Event()

        def attack() -> None:
            for _ in range(1000):
                report_one(writer)
            done.set()

        reporter = threading.Thread(target=attack, daemon=True)
        reporter.start()
        reporter.join(JOIN_TIMEOUT)
        assert done.is_set(), "reporting to a full pipe blocked"
        assert writer.dropped == 1000

        assert os.read(read_end, PIPE_SIZE) == b"x" * PIPE_SIZE
        report_one(writer, "192.0.2.8")
        line = os.read(read_end, PIPE_SIZE)
        refusal = Refusal.from_json(line)
        assert (refusal.peer, refusal.dropped) == ("192.0.2.8", 1000)
        assert writer.dropped == 0
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_host_gone_is_counted_not_raised():
    read_end, write_end = os.pipe()
    os.close(read_end)
    writer = ReportWriter(write_end)
    try:
        report_one(writer)
        assert writer.dropped == 1
    finally:
        os.close(write_end)


def test_the_hostile_longest_report_is_one_atomic_line_with_the_nearest_hops():
    hops = ", ".join(f"\x01\u00ff{n}" for n in range(300)) + ", 192.0.2.1, 10.0.0.1"
    forwarded = forwarding({"X-Forwarded-For": hops, "X-Real-IP": "\x1b" * 5000})
    assert forwarded["X-Forwarded-For"].endswith(" 192.0.2.1, 10.0.0.1")
    assert len(forwarded["X-Forwarded-For"]) <= MAX_HEADER
    assert not forwarded["X-Forwarded-For"].startswith("\u00ff")  # cut at a comma
    read_end, write_end = os.pipe()
    try:
        writer = ReportWriter(write_end)
        hostile = "\x02" * 1000
        writer.refused(ORIGIN, 403, "SCONS0025E", hostile, forwarded, hostile, hostile)
        line = os.read(read_end, 2 * MAX_LINE)
        assert writer.dropped == 0 and len(line) <= MAX_LINE and line.endswith(b"\n")
        assert Refusal.from_json(line).forwarded == forwarded
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_refused_heads_forwarding_headers_are_read():
    head = b"GET /?token=x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"
    assert head_forwarding(head) == {"X-Forwarded-For": "192.0.2.1"}
    assert head_forwarding(b"\xff\xfe garbage") == {}


def test_a_repeated_forwarding_header_counts_by_its_last_line_as_for_rest_requests():
    """A client's own X-Forwarded-For line before its proxy's named the client's choice."""
    head = (
        b"GET /?token=x HTTP/1.1\r\nX-Forwarded-For: 10.0.0.5\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n"
    )
    assert head_forwarding(head) == {"X-Forwarded-For": "192.0.2.7"}


def test_the_reader_hands_on_each_refusal_and_ends_with_the_proxy():
    read_end, write_end = os.pipe()
    got: list[Refusal] = []
    reader = ReportReader(read_end, got.append).start()
    writer = ReportWriter(write_end)
    report_one(writer, "192.0.2.1")
    os.write(write_end, b"not json\n")
    os.write(write_end, b'{"event": "denied", "refused": 1}\n')
    report_one(writer, "192.0.2.2")
    os.close(write_end)  # the proxy exits
    reader.join(JOIN_TIMEOUT)
    assert not reader.thread.is_alive()
    assert [refusal.peer for refusal in got] == ["192.0.2.1", "192.0.2.2"]
    assert got[0].code == "SCONS0072E" and got[0].forwarded == {"X-Forwarded-For": "198.51.100.1"}
