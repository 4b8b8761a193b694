"""Log lines for a terminal or file, and for the systemd journal."""

from __future__ import annotations

import logging
import os

from plugin_serialconsole.logfmt import JournalFormatter, on_journal


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
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "two\nlines", None, None)
    assert formatter.format(record) == "<4>x WARNING two\n<4>lines"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "bad", None, None)
    assert formatter.format(record).startswith("<3>")
