"""Reading the audit log back, newest first (``AuditFile.read``)."""

from __future__ import annotations

import json
import logging

from plugin_serialconsole import auditfile
from plugin_serialconsole.auditfile import KEEP, AuditFile


def everything(event: dict) -> bool:
    return True


def numbers(events: list[dict]) -> list[int]:
    return [event["n"] for event in events]


def test_a_set_of_rotated_files_reads_as_one_log_whatever_the_limit(tmp_path):
    """Files of several chunks each: the newest ``limit`` events cross chunk edges and
    files alike, in order, nothing lost or doubled."""
    file = AuditFile(tmp_path / "audit.log", 150 * 1024).open()
    for number in range(30_000):
        file.append({"event": "send", "n": number, "text": "\u00e9" * (number % 7)})
    file.close()
    assert file.old_files()[0].exists(), "every kept file is in use"
    everything_kept = numbers(file.read(everything, 100_000))
    oldest = everything_kept[0]
    assert oldest > 0 and everything_kept == list(range(oldest, 30_000))
    for limit in (1, 99, 5000, 12_345, 30_000 - oldest - 1):
        assert numbers(file.read(everything, limit)) == list(range(30_000 - limit, 30_000))
    odd = numbers(file.read(lambda event: event["n"] % 2 == 1, 4000))
    assert odd == list(range(30_000 - 8000 + 1, 30_000, 2))


def test_a_line_the_writer_left_cut_short_is_skipped_with_a_debug_log(tmp_path, caplog):
    path = tmp_path / "audit.log"
    file = AuditFile(path, 1 << 20).open()
    file.append({"n": 1})
    file.append({"n": 2})
    with open(path, "ab") as raw:  # a full disk took the rest of the line
        raw.write(b'{"n": 3, "ev')
    caplog.set_level(logging.DEBUG, logger=auditfile.__name__)
    assert numbers(file.read(everything, 10)) == [1, 2]
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "skipped" in caplog.records[0].getMessage()


def test_a_line_that_is_not_json_is_skipped_with_a_debug_log(tmp_path, caplog):
    path = tmp_path / "audit.log"
    file = AuditFile(path, 1 << 20).open()
    file.append({"n": 1})
    with open(path, "ab") as raw:
        raw.write(b"not json\n[1, 2]\n\n")
    file.append({"n": 2})
    caplog.set_level(logging.DEBUG, logger=auditfile.__name__)
    assert numbers(file.read(everything, 10)) == [1, 2]
    assert len(caplog.records) == 3 and {r.levelno for r in caplog.records} == {logging.DEBUG}


def test_a_rotation_while_reading_changes_nothing_read(tmp_path):
    """The files are the ones open when the reading began: events appended meanwhile,
    even enough to push every file read out of the kept ones, are not in the answer,
    and none read is missed."""
    file = AuditFile(tmp_path / "audit.log", 4096).open()
    for number in range(1000):
        file.append({"n": number})
    before = numbers(file.read(everything, 100_000))
    flooded = False

    def flooding(event: dict) -> bool:
        nonlocal flooded
        if not flooded:
            flooded = True
            for number in range(1000, 3000):
                file.append({"n": number})
        return True

    assert numbers(file.read(flooding, 100_000)) == before
    assert numbers(file.read(everything, 1)) == [2999]
    assert not any(path.name.endswith(f".{KEEP + 1}") for path in tmp_path.iterdir())


def test_a_limit_of_nothing_reads_nothing(tmp_path):
    file = AuditFile(tmp_path / "audit.log", 4096).open()
    file.append({"n": 1})
    assert file.read(everything, 0) == []


def test_a_reading_up_to_a_time_skips_the_files_that_begin_after_it(tmp_path):
    path = tmp_path / "audit.log"
    file = AuditFile(path, 4096).open()
    for number in range(2000):
        stamp = f"2026-01-01T00:{number // 60:02d}:{number % 60:02d}.000Z"
        file.append({"time": stamp, "n": number})

    def events_in(name: str) -> list[dict]:
        return [json.loads(line) for line in (tmp_path / name).read_bytes().splitlines()]

    until = events_in("audit.log.3")[5]
    looked_at = []

    def matches(event: dict) -> bool:
        looked_at.append(event["n"])
        return event["time"] <= until["time"]

    found = file.read(matches, 3, until=until["time"])
    assert numbers(found) == [until["n"] - 2, until["n"] - 1, until["n"]]
    newer_files = ("audit.log", "audit.log.1", "audit.log.2")
    newer = [event["n"] for name in newer_files for event in events_in(name)]
    assert not set(looked_at) & set(newer), "a file all newer than until was read"
