"""The capture log (issue 15): bounded with one older generation, a time index to cut it
by, lines for boots and gaps, files that are never links; and the capture patterns."""

from __future__ import annotations

import logging
import os
import stat
import time
import tracemalloc
from pathlib import Path

import pytest

from plugin_serialconsole import capturelog
from plugin_serialconsole.console import logfiles, logwriter
from plugin_serialconsole.console.logwriter import MAX_PENDING, LogWriter
from plugin_serialconsole.model.capture_policy import CapturePolicy
from plugin_serialconsole.rundir import UnsafeDirectory

CONSOLE = "0123456789abcdef01234567"
LIMIT = 8192


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "state" / "logs"


def read(logs: Path, since: float | None = None, until: float | None = None) -> bytes:
    fd = os.open(logs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return capturelog.read_log(fd, CONSOLE, since, until)
    finally:
        os.close(fd)


def test_a_flood_keeps_the_log_bounded_with_one_older_generation(logs):
    writer = LogWriter(logs, CONSOLE, LIMIT)
    writer.open(booted=True)
    lines = [b"line %06d\r\n" % n for n in range(20_000)]  # 240 KB, 30 times the limit
    for line in lines:
        writer.record(line)
    writer.close("done")
    sizes = {p.name: p.stat().st_size for p in logs.iterdir()}
    assert set(sizes) == {f"{CONSOLE}{s}{g}" for s in (".log", ".idx") for g in ("", ".1")}
    assert sizes[f"{CONSOLE}.log.1"] == LIMIT and sizes[f"{CONSOLE}.log"] <= LIMIT + 200
    log = read(logs)
    assert b"line 019999\r\n" in log and b"line 000000" not in log
    assert log.rstrip().endswith(b"capture ended at " + log.rsplit(b"at ", 1)[1].rstrip())
    tail = log[log.index(b"line ") :]  # whatever was kept is unbroken and in order
    numbers = [int(n.split()[1]) for n in tail.split(b"\r\n") if n.startswith(b"line ")]
    assert numbers == list(range(numbers[0], 20_000))
    modes = {stat.S_IMODE(p.stat().st_mode) for p in logs.iterdir()}
    assert modes == {0o600} and stat.S_IMODE(logs.stat().st_mode) == 0o700


def test_record_never_waits_for_the_disk_and_counts_what_it_dropped(logs):
    writer = LogWriter(logs, CONSOLE, 64 * 1024 * 1024)
    writer.open(booted=False)
    # The writer thread is held (as by a stuck disk) while the guest floods: each record
    # returns at once, queueing at most MAX_PENDING bytes and counting the rest.
    with writer._ready:
        for _ in range(3):
            writer.record(b"x" * MAX_PENDING)
    writer.close("done")
    log = read(logs)
    kept = log.count(b"x" * MAX_PENDING)
    assert kept <= 1  # the opening line may still have been waiting
    assert b"%d bytes of output skipped" % ((3 - kept) * MAX_PENDING) in log


def test_boot_attach_and_gap_lines(logs):
    first = LogWriter(logs, CONSOLE, LIMIT)
    first.open(booted=True)
    first.record(b"Linux version 6.1\r\n")
    first.close("The host is shutting down.")
    second = LogWriter(logs, CONSOLE, LIMIT)
    second.open(booted=False)
    second.close("The guest stopped.")
    log = read(logs)
    assert log.startswith(b"\r\n-- serialconsole: guest started at ")
    assert b"Linux version 6.1\r\n" in log
    assert b"not captured from " in log and b": The host is shutting down. --" in log


def test_since_and_until_cut_at_stretches(logs, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    writer = LogWriter(logs, CONSOLE, LIMIT)
    writer.open(booted=True)
    writer.record(b"early\r\n")
    clock[0] = 1010.0
    writer.record(b"late\r\n")
    clock[0] = 1020.0
    writer.close("done")
    assert b"early" in read(logs, until=1005) and b"late" not in read(logs, until=1005)
    assert b"late" in read(logs, since=1005) and b"early" not in read(logs, since=1005)


def test_a_log_file_that_is_a_link_is_refused(logs, tmp_path):
    logs.mkdir(parents=True, mode=0o700)
    target = tmp_path / "target"
    target.write_bytes(b"")
    os.symlink(target, logs / f"{CONSOLE}.log")
    with pytest.raises(capturelog.UnsafeLogFile):
        LogWriter(logs, CONSOLE, LIMIT).open(booted=True)
    assert target.read_bytes() == b""


def test_a_logs_dir_that_is_a_link_is_refused(logs, tmp_path):
    logs.parent.mkdir(mode=0o700)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", logs)
    with pytest.raises(UnsafeDirectory):
        LogWriter(logs, CONSOLE, LIMIT).open(booted=True)


def test_file_names_only_from_console_ids():
    with pytest.raises(ValueError):
        capturelog.file_name("../../etc/passwd", ".log")


@pytest.mark.parametrize(
    ("mode", "include", "exclude", "name", "captured"),
    [
        ("all", "", "", "web-1", True),
        ("none", "", "", "web-1", False),
        ("all", "web-*", "", "db-1", False),
        ("all", "web-* db-?", "db-2", "db-2", False),
        ("all", "web-* db-?", "db-2", "db-1", True),
        ("all", "web-*,db-?", "", "db-1", True),  # commas separate, as they always did
        ("all", '"web 1", db-?', "", "web 1", True),  # quoted as in the rights file
        ("all", "'lab #[0-9]'", "", "lab #3", True),
    ],
)
def test_capture_patterns(mode, include, exclude, name, captured):
    policy = CapturePolicy.from_values(mode, include, exclude, "/var/lib/x")
    assert policy.captures("default", name) is captured


@pytest.mark.parametrize(
    ("include", "exclude", "hypervisor", "name", "captured"),
    [
        ("prod:*", "", "prod", "web-1", True),
        ("prod:*", "", "lab", "web-1", False),  # only the production hypervisor's guests
        ("PROD:web-*", "", "prod", "web-1", True),  # hypervisor names in lower case
        ("", "*:db-*", "lab", "db-1", False),
        ("", "*:db-*", "lab", "web-1", True),
        ("web-1", "", "lab", "web-1", True),  # no hypervisor: on any
        ("prod:*,lab:db-?", "prod:db-2", "prod", "db-2", False),
        ("prod:*,lab:db-?", "prod:db-2", "lab", "db-2", True),
        ("prod:web:1", "", "prod", "web:1", True),  # the first bare colon separates
        ('"web:1"', "", "lab", "web:1", True),  # a quoted colon is the guest's
        ("web\\:1", "", "lab", "web:1", True),  # so is an escaped one
        ('"web:1"', "", "web", "1", False),
    ],
)
def test_capture_patterns_naming_a_hypervisor(include, exclude, hypervisor, name, captured):
    policy = CapturePolicy.from_values("all", include, exclude, "/var/lib/x")
    assert policy.captures(hypervisor, name) is captured


def test_capture_settings_are_checked():
    with pytest.raises(ValueError, match="capture_exclude"):
        CapturePolicy.from_values("all", "", '"web 1', "")  # a quote left open
    with pytest.raises(ValueError):
        CapturePolicy.from_values("some", "", "", "")
    with pytest.raises(ValueError):
        CapturePolicy.from_values("all", "", "", "relative/dir")


@pytest.mark.parametrize(
    ("include", "why"),
    [
        (":web", "a hypervisor and a guest pattern around ':'"),
        ("prod:", "a hypervisor and a guest pattern around ':'"),
        ('web-1 "prod hv":web', "cannot match a hypervisor name"),
        ("pr/od:web", "cannot match a hypervisor name"),
    ],
)
def test_a_malformed_hypervisor_part_is_a_bad_capture_setting(include, why):
    with pytest.raises(ValueError, match=f"capture_include: .*{why}") as refused:
        CapturePolicy.from_values("all", include, "", "/var/lib/x")
    assert "quoted" in str(refused.value)  # says how to write a guest name with a colon


def test_a_pattern_for_no_configured_hypervisor_is_logged(caplog):
    policy = CapturePolicy.from_values("all", "prdo:* web-1 prod*:db", "*:x lab:y", "/var/lib/x")
    with caplog.at_level(logging.WARNING, logger="plugin_serialconsole.model.capture_policy"):
        assert policy.report_unmatched(["prod", "default"]) == 2
    include, exclude = (record.getMessage() for record in caplog.records)
    assert "capture_include: no hypervisor matches 'prdo' (hypervisors: default, prod)" in include
    assert "selects no guest" in include and '"prdo:*"' in include
    assert "capture_exclude: no hypervisor matches 'lab'" in exclude


def test_a_reset_reported_twice_gets_one_boot_line(logs):
    writer = LogWriter(logs, CONSOLE, LIMIT)
    writer.open(booted=True)
    writer.record(b"reboot: Restarting system\r\n")
    writer.mark_boot()
    writer.record(b"[    0.000000] Linux version\r\n")  # output between the two reports
    writer.mark_boot()
    writer.close("done")
    assert read(logs).count(b"-- serialconsole: guest started at ") == 2  # the start, one reboot


def test_a_trickling_flood_is_written_in_few_large_writes(logs, monkeypatch):
    # The relay records a chunk, then awaits the guest (the GIL is free meanwhile): the
    # writer must not wake and write per chunk, each wake-up costing the relay a thread
    # switch; it gathers output for LINGER seconds (or FLUSH_BYTES) and writes it at once.
    writes: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    writer = LogWriter(logs, CONSOLE, 64 * 1024 * 1024)
    writer.open(booted=True)
    monkeypatch.setattr(logfiles.os, "write", counting_write)
    chunks = 300
    started = time.monotonic()
    for n in range(chunks):
        writer.record(b"chunk %06d\r\n" % n)
        time.sleep(0.0005)
    elapsed = time.monotonic() - started
    writer.close("done")
    assert b"chunk %06d" % (chunks - 1) in read(logs)
    gathered = elapsed / logwriter.LINGER + 2  # one per lingering, the end, the opening
    assert len(writes) <= 2 * gathered  # a batch: one log write, at most one index line


def test_a_flood_deeper_than_two_generations_loses_nothing_the_log_would_keep(logs):
    # The writer is held (as while it lingers) and the guest floods past MAX_PENDING: the
    # output it would rotate out of the log anyway is forgotten instead of counted as
    # lost, so the log ends as if all had been written, with no "skipped" gap.
    writer = LogWriter(logs, CONSOLE, LIMIT)
    writer.open(booted=True)
    count = (MAX_PENDING + MAX_PENDING // 2) // len(b"line 0000000\r\n")
    with writer._ready:
        for n in range(count):
            writer.record(b"line %07d\r\n" % n)
    writer.close("done")
    log = read(logs)
    assert b"skipped" not in log
    assert (logs / f"{CONSOLE}.log.1").stat().st_size == LIMIT
    tail = log[log.index(b"line ") :]
    numbers = [int(n.split()[1]) for n in tail.split(b"\r\n") if n.startswith(b"line ")]
    assert numbers == list(range(numbers[0], count))
    assert len(log) > LIMIT  # both generations


def test_a_guest_printing_a_byte_a_second_keeps_the_index_bounded(logs, monkeypatch):
    # Each byte is a stretch of its own (2 s after the last): one index line per byte
    # would make the index many times the size of the log it indexes.
    clock = [1000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    writer = LogWriter(logs, CONSOLE, LIMIT)
    writer.open(booted=True)
    for _ in range(3 * LIMIT):
        clock[0] += 2.0
        writer.record(b".")
    writer.close("done")
    for generation in ("", ".1"):
        index = (logs / f"{CONSOLE}.idx{generation}").read_bytes()
        assert len(index) <= LIMIT // logfiles.INDEX_SHARE + logfiles.INDEX_SLACK + 64
    assert read(logs, since=clock[0] - 4 * LIMIT).count(b".") >= LIMIT // 2


def write_generations(logs: Path, generations: dict[str, tuple[bytes, bytes]]) -> None:
    logs.mkdir(parents=True, mode=0o700, exist_ok=True)
    for generation, (data, index) in generations.items():
        for suffix, content in ((".log", data), (".idx", index)):
            path = logs / f"{CONSOLE}{suffix}{generation}"
            path.write_bytes(content)
            path.chmod(0o600)


def test_reading_does_not_build_the_whole_index(logs):
    # An index of 200,000 stretches (as a slow guest made before it was bounded): a read
    # cut by time bisects it instead of turning every line into an object.
    lines = b"".join(b"%d %d.000\n" % (n, 1000 + 2 * n) for n in range(200_000))
    write_generations(logs, {"": (b"x" * 200_000, lines)})
    tracemalloc.start()
    try:
        data = read(logs, since=1000 + 2 * 199_000, until=1000 + 2 * 199_499)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data == b"x" * 500
    assert peak < 256 * 1024


def test_since_until_and_tail_by_bisection(logs):
    index = (
        b"".join(b"%d %d.000\n" % (10 * n, 100 + n) for n in range(50)) + b"500 150.000 end bye\n"
    )
    data = b"".join(b"%09d\n" % n for n in range(50))
    write_generations(logs, {".1": (b"older\n", b"0 50.000\n"), "": (data, index)})
    assert read(logs) == b"older\n" + data
    assert read(logs, since=110, until=112) == b"000000010\n000000011\n000000012\n"
    assert read(logs, until=60) == b"older\n"
    assert read(logs, since=200) == b""
    fd = os.open(logs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert capturelog.read_log(fd, CONSOLE, tail=25) == data[-25:]
        assert capturelog.read_log(fd, CONSOLE, tail=505) == b"older\n"[-5:] + data
        assert capturelog.read_log(fd, CONSOLE, until=99, tail=3) == b"er\n"
        assert capturelog.last_mark(fd, CONSOLE) == capturelog.Mark(500, 150.0, "bye")
    finally:
        os.close(fd)


def test_a_rotation_while_the_log_is_opened_is_not_mixed_in(logs, monkeypatch):
    # Generations A (older) and B; right after the reader opened A's log, the writer
    # rotates: B becomes the older one and C starts. The reader must answer B and C
    # (what the log holds now), never A's bytes cut at B's offsets.
    write_generations(logs, {".1": (b"A" * 40, b"0 10.000\n"), "": (b"B" * 40, b"0 20.000\n")})
    opened = capturelog.open_file
    rotated = []

    def rotating_open(directory_fd: int, name: str, flags: int) -> int:
        fd = opened(directory_fd, name, flags)
        if not rotated and name.endswith(".log.1"):
            rotated.append(name)
            for suffix in (".log", ".idx"):
                os.replace(logs / f"{CONSOLE}{suffix}", logs / f"{CONSOLE}{suffix}.1")
            write_generations(logs, {"": (b"C" * 40, b"0 30.000\n")})
        return fd

    monkeypatch.setattr(capturelog, "open_file", rotating_open)
    assert read(logs, since=15) == b"B" * 40 + b"C" * 40
    assert rotated
