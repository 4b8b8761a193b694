"""The remote part: a tiny guest on a libvirtd in namespaces of its own (tests/multihv),
reached over ``qemu+tls://`` on a veth pair, and a libvirt console stream to it opened right
here: open → first byte, echo round trips and ``seq`` throughput through libvirt's remote
protocol with TLS. The baseline the pipeline on a remote hypervisor is compared with.

It needs root (network namespaces, a libvirtd of its own), iproute2, gnutls-bin's certtool,
libvirtd, QEMU and the tiny guest; without them it is skipped, and says why.
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

from bench.real import PTY_POLL, SHELL, DirectTerminal, Skipped, direct_first_byte
from bench.terminal import bulk_rate, echo_round_trips, percentile, trip_figures
from tests.integration.helpers import seq_bytes
from tests.multihv.remote_daemons import TLS, RemoteDaemon, missing_tools
from tests.realguest.daemons import running_as_root
from tests.realguest.guests import SINGLE, TinyGuest, build


@contextmanager
def remote_guest() -> Iterator[TinyGuest]:
    """A TLS-reached libvirtd in its namespaces and one booted tiny guest on it."""
    if not running_as_root():
        raise Skipped("only root makes network namespaces and starts a libvirtd")
    if missing := missing_tools():
        raise Skipped(f"not installed: {', '.join(missing)}")
    if shutil.which("qemu-system-x86_64") is None:
        raise Skipped("QEMU is not installed (Debian: qemu-system-x86)")
    daemon = RemoteDaemon(Path(tempfile.mkdtemp(prefix="schv", dir="/tmp")), "bench", TLS)
    try:
        try:
            daemon.start()
            guest = TinyGuest(daemon.uri, build() / SINGLE, "remote")
        except Exception as error:  # noqa: BLE001 (any failure to set up means: skip)
            raise Skipped(f"a TLS-reached libvirtd could not be set up: {error}") from error
        try:
            yield guest.boot()
        except libvirt.libvirtError as error:
            raise Skipped(f"the tiny guest could not be started: {error}") from error
        finally:
            guest.destroy()
    finally:
        daemon.stop()
        shutil.rmtree(daemon.workdir, ignore_errors=True)


def open_figures(guest: TinyGuest, opens: int) -> dict[str, float]:
    """Open → first byte of a direct stream, each open after a random pause (see
    ``bench.real.open_figures``: QEMU polls an unopened pty once a second)."""
    spread = random.Random(16)
    opened = []
    for _ in range(opens):
        time.sleep(spread.uniform(0, PTY_POLL))
        opened.append(direct_first_byte(guest))
    return {"direct_p50_s": percentile(opened, 0.5), "direct_p90_s": percentile(opened, 0.9)}


def run(args: argparse.Namespace) -> dict:
    with remote_guest() as guest:
        figures: dict = {"open": open_figures(guest, args.opens)}
        body = seq_bytes(args.real_seq)
        trips: list[float] = []
        rates: list[float] = []
        for _ in range(args.reps):
            term = DirectTerminal(guest.conn, guest.domain)
            try:
                trips += echo_round_trips(term, args.echoes, SHELL)
                rates.append(bulk_rate(term, args.real_seq, SHELL, body) / 1000)
            finally:
                term.close()
        figures["echo"] = {f"direct_{k}": v for k, v in trip_figures(trips).items()}
        figures["throughput"] = {"direct_kb_s": statistics.median(rates), "direct_runs_kb_s": rates}
        figures["guest"] = {"domain_start_s": guest.start_seconds}
        return figures
