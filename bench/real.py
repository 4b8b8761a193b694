"""The real part: one booted tiny guest (libvirtd + QEMU), the pipeline side by side with a
libvirt console stream opened right here, in alternating order so drift favours neither.

It needs a libvirtd at qemu:///system, or root to start one the way tests/realguest does,
and the tiny guest (contrib/tinyguest/build-tinyguest). Without them it is skipped, and
says why.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import libvirt

from bench import capture, procs
from bench.mock import start_host
from bench.opening import Opened, close_console, open_console, open_first_byte, post_sysrq
from bench.sides import SHELL, DirectTerminal, side_by_side, summarize
from bench.terminal import bulk_rate, percentile, sysrq_round_trips, trip_figures
from tests.integration.helpers import Host, config_file, seq_bytes
from tests.realguest.daemons import URI, Daemons, running_as_root, unreachable
from tests.realguest.guests import SINGLE, TinyGuest, build

PTY_POLL = 1.0  # QEMU polls a pty console nobody has open once a second
STEPS = ("rest", "handshake", "first_byte")
IDLE_SETTLE = 2.0  # seconds an idle session is left before its memory is read


class Skipped(Exception):
    """The real part cannot run here; the message says why."""


@contextmanager
def booted_guest() -> Iterator[TinyGuest]:
    """libvirtd (the running one, or one started here as root) and one booted tiny guest."""
    daemons = Daemons(Path(tempfile.mkdtemp(prefix="sclv", dir="/tmp")))
    try:
        if (why := unreachable(URI)) is not None:
            if not running_as_root():
                raise Skipped(f"no libvirtd answers at {URI} ({why}) and only root starts one")
            try:
                daemons.start()
            except (OSError, RuntimeError) as error:
                raise Skipped(f"libvirtd could not be started: {error}") from error
        guest = TinyGuest(URI, _guest_dir() / SINGLE, "bench")
        try:
            yield _boot(guest)
        finally:
            guest.destroy()
    finally:
        daemons.stop()
        shutil.rmtree(daemons.workdir, ignore_errors=True)


def _boot(guest: TinyGuest) -> TinyGuest:
    if shutil.which("qemu-system-x86_64") is None:
        raise Skipped("QEMU is not installed (Debian: qemu-system-x86)")
    try:
        return guest.boot()
    except libvirt.libvirtError as error:
        raise Skipped(f"the tiny guest could not be started: {error}") from error


def _guest_dir() -> Path:
    try:
        return build()
    except Exception as error:  # noqa: BLE001 (any failure of the builder means: skip)
        raise Skipped(f"the tiny guest could not be built: {error}") from error


def local_pids(guest: TinyGuest) -> dict[str, int]:
    """libvirtd and the guest's QEMU at qemu:///system, from their pid files (where found)."""
    files = {
        "libvirtd": Path("/run/libvirtd.pid"),
        "qemu": Path(f"/run/libvirt/qemu/{guest.name}.pid"),
    }
    return {name: int(path.read_text()) for name, path in files.items() if path.is_file()}


def direct_first_byte(guest: TinyGuest) -> float:
    """Open a libvirt console stream, press Enter: seconds until the first byte."""
    started = time.perf_counter()
    term = DirectTerminal(guest.conn, guest.domain)
    try:
        term.send(b"\r")
        term.first_byte()
        return time.perf_counter() - started
    finally:
        term.close()


def pipeline_first_byte(host: Host, guest: TinyGuest) -> Opened:
    opened = open_first_byte(host, guest.name, nudge=b"\r")
    close_console(host, opened.term, guest.name)
    return opened


def open_figures(host: Host, guest: TinyGuest, reps: int) -> dict[str, float]:
    """Open → first byte, pipeline and direct in turn, each after a random pause.

    QEMU notices a newly opened pty console only on its next once-a-second poll (counted
    from when the last client let go), so how long the first byte takes depends on when the
    console is opened; the pauses spread the opens over that second as a person's would be,
    each pause the same for both sides.
    """
    spread = random.Random(6)
    pauses = [spread.uniform(0, PTY_POLL) for _ in range(reps)]
    pipeline, direct = [], []
    for pause in pauses:
        time.sleep(pause)
        pipeline.append(pipeline_first_byte(host, guest))
        time.sleep(pause)
        direct.append(direct_first_byte(guest))
    totals = [opened.total for opened in pipeline]
    return {
        "p50_s": percentile(totals, 0.5),
        "p90_s": percentile(totals, 0.9),
        **{f"{step}_s": statistics.median(getattr(o, step) for o in pipeline) for step in STEPS},
        "direct_p50_s": percentile(direct, 0.5),
        "direct_p90_s": percentile(direct, 0.9),
    }


# Alt+SysRq+M as Linux input codes (KEY_LEFTALT, KEY_SYSRQ, KEY_M), as `virsh send-key` takes them.
SYSRQ_M = [56, 99, 50]


def sysrq_figures(host: Host, guest: TinyGuest, count: int) -> dict[str, float]:
    """SysRq+m until the guest kernel's answer is read: through the Send API and the
    plugin's console, and straight through virDomainSendKey and a libvirt stream."""
    opened = open_console(host, guest.name)
    try:
        pipeline = sysrq_round_trips(opened.term, lambda: post_sysrq(host, guest.name), count)
    finally:
        close_console(host, opened.term, guest.name)
    keys = SYSRQ_M
    term = DirectTerminal(guest.conn, guest.domain)
    try:
        direct = sysrq_round_trips(
            term,
            lambda: guest.domain.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, 0, keys, len(keys), 0),
            count,
        )
    finally:
        term.close()
    return {
        **{f"pipeline_{k}": v for k, v in trip_figures(pipeline).items()},
        **{f"direct_{k}": v for k, v in trip_figures(direct).items()},
    }


def idle_session_memory(host: Host, guest: TinyGuest) -> dict[str, float]:
    """PSS of one idle session on the guest: its console process and what the proxy,
    which relays every connection, grew by for it (its private memory)."""
    proxy = procs.proxy_pid(host.proc.pid)
    proxy_before = procs.private_mb(proxy)
    opened = open_first_byte(host, guest.name, nudge=b"\r")
    try:
        time.sleep(IDLE_SETTLE)
        (console,) = [session["pid"] for session in host.sessions()]
        relay = procs.private_mb(proxy) - proxy_before
        figures = {"console_pss_mb": procs.pss_mb(console), "relay_pss_mb": relay}
        figures["session_pss_mb"] = figures["console_pss_mb"] + relay
        return figures
    finally:
        close_console(host, opened.term, guest.name)


def captured_figures(
    guest: TinyGuest, args: argparse.Namespace, opens: int, record_input: str = "no"
) -> dict[str, dict]:
    """Open → first byte on the guest while a capture holds its console (issue 15): no new
    libvirt console, no wait for QEMU's pty poll (``opens`` times); and ``seq`` through the
    captured console (KB/s, median of ``args.reps``), every byte also going to the capture
    log, and with ``record_input`` (issue 18) what is typed beside it."""
    body = seq_bytes(args.real_seq)
    with tempfile.TemporaryDirectory(prefix="scbench") as workdir:
        config = config_file(Path(workdir), "serialconsole", capture_include=guest.name)
        host = start_host("--config", str(config), "--capture", "all",
                          "--state-dir", f"{workdir}/state", "--record-input", record_input,
                          source=("--uri", URI))  # fmt: skip
        try:
            capture.wait_until(
                "the capture", lambda: len(capture.captures(host)) == 1, capture.UP_TIMEOUT
            )
            totals = []
            for _ in range(opens):
                opened = open_first_byte(host, guest.name, nudge=b"\r")
                totals.append(opened.total)
                capture.leave(host, guest.name, opened.term)
            opened = open_first_byte(host, guest.name, nudge=b"\r")
            try:
                rates = [
                    bulk_rate(opened.term, args.real_seq, SHELL, body) / 1000
                    for _ in range(args.reps)
                ]
            finally:
                capture.leave(host, guest.name, opened.term)
            return {
                "open": {"p50_s": percentile(totals, 0.5), "p90_s": percentile(totals, 0.9)}
                if totals
                else {},
                "throughput": {"kb_s": statistics.median(rates), "runs_kb_s": rates},
            }
        finally:
            host.finish()


def run(args: argparse.Namespace) -> dict:
    with booted_guest() as guest:
        host = start_host(source=("--uri", URI))
        try:
            figures = {"open": open_figures(host, guest, args.opens)}
            figures.update(summarize(side_by_side(host, guest, args, local_pids(guest))))
            figures["sysrq"] = sysrq_figures(host, guest, args.reps)
            figures["idle"] = idle_session_memory(host, guest)
        finally:
            host.finish()
        captured = captured_figures(guest, args, args.opens)
        recorded = captured_figures(guest, args, 0, record_input="yes")
        figures["captured_open"] = captured["open"]
        for name, measured in (("captured", captured), ("recorded", recorded)):
            figures[f"{name}_throughput"] = measured["throughput"]
            measured["throughput"]["ratio"] = (
                measured["throughput"]["kb_s"] / figures["throughput"]["pipeline_kb_s"]
            )
        figures["guest"] = {"domain_start_s": guest.start_seconds}
        return figures
