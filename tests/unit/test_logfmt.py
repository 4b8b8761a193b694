"""Log lines for a terminal or file, and for the systemd journal."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterator

import pytest

from plugin_serialconsole.logfmt import (
    CONTINUATION,
    JournalFormatter,
    escape_controls,
    on_journal,
    stderr_handler,
)


def test_journal_stream_is_recognised_by_device_and_inode(monkeypatch, tmp_path):
    with open(tmp_path / "stream", "w") as stream:
        status = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
        assert on_journal(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino + 1}")
        assert not on_journal(stream.fileno())
    monkeypatch.delenv("JOURNAL_STREAM")
    assert not on_journal(2)


def test_journal_lines_carry_their_priority_and_no_time():
    formatter = JournalFormatter("%(name)s %(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "one %s", ("line",), None)
    assert formatter.format(record) == "<4>x WARNING one line"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "bad", None, _exc_info("boom"))
    lines = formatter.format(record).split("\n")
    assert lines[0] == "<3>x ERROR bad"
    assert all(line.startswith("<3>  ") for line in lines[1:]), lines


def _exc_info(message: str):
    try:
        raise ValueError(message)
    except ValueError:
        return sys.exc_info()


@pytest.fixture
def captured(monkeypatch) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through ``stderr_handler``, the handler every process sets up."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logger = logging.getLogger("test_logfmt.captured")
    handler = stderr_handler("tag")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


def test_guest_name_with_a_newline_cannot_forge_a_log_line(captured):
    logger, stream = captured
    logger.warning("console of guest %s opened", "evil\nSCONS forged")
    assert stream.getvalue().endswith(" tag WARNING console of guest evil\\nSCONS forged opened\n")
    assert stream.getvalue().count("\n") == 1


def test_escape_sequence_in_a_preformatted_message_is_escaped(captured):
    logger, stream = captured
    origin = "http://x\x1b[31m.example"
    logger.info(f"got '{origin}'")  # preformatted, as websockify logs the Origin
    assert "\x1b" not in stream.getvalue()
    assert "got 'http://x\\x1b[31m.example'" in stream.getvalue()


@pytest.mark.parametrize("separator", ["\r", "\x85", "\u2028", "\x0b", "\x9b"])
def test_every_line_separator_and_control_is_escaped(separator):
    text = f"evil{separator}SCONS forged"
    assert escape_controls(text) == f"evil{repr(separator)[1:-1]}SCONS forged"
    formatter = JournalFormatter("%(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "guest %s", (text,), None)
    assert len(formatter.format(record).splitlines()) == 1


def test_text_in_a_traceback_cannot_start_a_line(captured):
    logger, stream = captured
    exc_info = _exc_info("no guest 'evil\n2026-11-30 00:00:00,000 tag INFO SCONS forged'")
    logger.error("lookup failed", exc_info=exc_info)
    first, *more = stream.getvalue().splitlines()
    assert first.endswith(" tag ERROR lookup failed")
    assert more and all(line.startswith(CONTINUATION) for line in more), more


def test_printable_text_is_kept():
    assert escape_controls("tab-free ünïcödé 虚拟机 \\ ok") == "tab-free ünïcödé 虚拟机 \\ ok"
