"""The recording part (issue 18) on the mock model: ``seq`` through a captured console
with ``record_input = yes`` and with ``no``, against a console that is not captured, taking
turns on hosts of the default ``log_size`` so all three see the same machine; and what a
capture writes to disk per MB of console output (its log, index and input record: the
storage bytes the console process caused, net of those of files deleted before they were
written out, from /proc/<pid>/io), with the default log (a flood rotates most output away
before it is written) and with the largest (64 MiB: every byte is written)."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench import procs
from bench.capture import SETTLE, UP_TIMEOUT, captures, leave, session_pid, wait_until
from bench.mock import PROMPT, start_host
from bench.opening import open_console
from bench.terminal import bulk_rate
from tests.integration.helpers import Host, config_file, seq_bytes, write_test_guests

GUESTS = 2  # the captured one and the one that is not
FULL_LOG_SIZE = 64 * 1024 * 1024
# figure prefix: (record_input, log_size or None for the default); the last is not timed
HOSTS = {
    "input_no": ("no", None),
    "input_yes": ("yes", None),
    "input_yes_64mib": ("yes", FULL_LOG_SIZE),
}
TIMED = ("input_no", "input_yes", "plain")


def storage_bytes(pid: int) -> int:
    """Bytes the process caused to be written to storage (its files, never its sockets),
    less those of files deleted before they were written out."""
    with open(f"/proc/{pid}/io") as io:
        fields = dict(line.split(": ") for line in io.read().splitlines())
    return int(fields["write_bytes"]) - int(fields["cancelled_write_bytes"])


def start(directory: Path, xml: Path, plain: str, record_input: str, size: int | None) -> Host:
    directory.mkdir()
    settings = {"log_size": str(size)} if size else {}
    config = config_file(directory, "serialconsole", capture_exclude=plain, **settings)
    host = start_host("--config", str(config), "--capture", "all", "--idle-timeout", "0",
                      "--state-dir", str(directory / "state"), "--record-input", record_input,
                      source=("--uri", f"test://{xml}"))  # fmt: skip
    wait_until("the capture", lambda: len(captures(host)) == GUESTS - 1, UP_TIMEOUT)
    return host


def run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    xml, names = write_test_guests(workdir, GUESTS)
    captured, plain = names
    hosts: dict[str, Host] = {}
    try:
        for kind, (record_input, size) in HOSTS.items():
            hosts[kind] = start(workdir / kind, xml, plain, record_input, size)
        terms = {kind: open_console(host, captured) for kind, host in hosts.items()}
        terms["plain"] = open_console(hosts["input_no"], plain)
        pids = {kind: session_pid(host, captured) for kind, host in hosts.items()}
        every_pid = {**pids, "plain": session_pid(hosts["input_no"], plain)}
        cpu = dict.fromkeys(every_pid, 0.0)
        time.sleep(SETTLE)
        body = seq_bytes(args.mock_seq)
        speeds: dict[str, list[float]] = {kind: [] for kind in TIMED}
        written = dict.fromkeys(pids, 0)
        for _ in range(args.reps):
            for kind, opened in terms.items():
                before = storage_bytes(pids[kind]) if kind in pids else 0
                cpu_before = procs.cpu_seconds([every_pid[kind]])
                rate = bulk_rate(opened.term, args.mock_seq, PROMPT, body) / 1e6
                cpu[kind] += procs.cpu_seconds([every_pid[kind]]) - cpu_before
                if kind in TIMED:
                    speeds[kind].append(rate)
                if kind in pids:
                    time.sleep(SETTLE)  # the log's writer lingers: what it holds is written
                    written[kind] += storage_bytes(pids[kind]) - before
        megabytes = args.reps * len(body) / 1e6
        figures = {f"{kind}_mb_s": statistics.median(values) for kind, values in speeds.items()}
        for kind in pids:
            figures[f"{kind}_disk_bytes_per_mb"] = written[kind] / megabytes
        for kind in every_pid:  # steadier than MB/s on a busy machine
            figures[f"{kind}_cpu_s_per_100mb"] = 100 * cpu[kind] / megabytes
        for kind in ("input_no", "input_yes"):
            figures[f"{kind}_ratio"] = figures[f"{kind}_mb_s"] / figures["plain_mb_s"]
        for kind, host in hosts.items():
            leave(host, captured, terms[kind].term)
        terms["plain"].term.close()
        return figures
    finally:
        for host in hosts.values():
            host.finish()
