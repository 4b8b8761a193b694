"""Real guest: the console pipeline against a direct libvirt stream, on one booted tiny guest.

Not a test — a measurement to build benchmarks on. As root it starts libvirtd the way the
real-guest tests do (unless one answers at qemu:///system), builds or reuses the tiny guest,
boots one, and measures on it, in one run:

- echo round trip: ``echo rNx`` sent, until the line ``rNx`` comes back (p50, p90);
- bulk throughput: ``seq N`` sent, until its last line arrives (guest output bytes / s);

once through the whole pipeline (REST -> websockify -> console process -> libvirt) and once
through a libvirt console stream opened here. Prints a table.

    .venv/bin/python bench/realguest_compare.py [--echoes 50] [--seq 20000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import websocket  # noqa: E402
from integration.helpers import Console, Host  # noqa: E402
from realguest.daemons import URI, Daemons, running_as_root, unreachable  # noqa: E402
from realguest.guests import SINGLE, TinyGuest, build, prompt  # noqa: E402

TIMEOUT = 120.0
Send = Callable[[bytes], None]
ReadUntil = Callable[[bytes, float], bytes]


def echo_round_trips(send: Send, read_until: ReadUntil, count: int) -> list[float]:
    send(b"\r")
    read_until(prompt(0), TIMEOUT)
    times = []
    for i in range(count):
        started = time.perf_counter()
        send(f"echo r{i}x\r".encode())
        read_until(f"\r\nr{i}x\r\n".encode(), TIMEOUT)
        times.append(time.perf_counter() - started)
        read_until(prompt(0), TIMEOUT)
    return times


def seq_throughput(send: Send, read_until: ReadUntil, last: int) -> float:
    size = len("".join(f"{i}\r\n" for i in range(1, last + 1)))
    started = time.perf_counter()
    send(f"seq {last}\r".encode())
    read_until(f"\r\n{last}\r\n".encode(), TIMEOUT)
    elapsed = time.perf_counter() - started
    read_until(prompt(0), TIMEOUT)
    return size / elapsed


def measure(send: Send, read_until: ReadUntil, args: argparse.Namespace) -> dict[str, float]:
    trips = echo_round_trips(send, read_until, args.echoes)
    return {
        "echo p50 (ms)": 1000 * statistics.median(trips),
        "echo p90 (ms)": 1000 * statistics.quantiles(trips, n=10)[-1],
        f"seq {args.seq} (KB/s)": seq_throughput(send, read_until, args.seq) / 1000,
    }


def through_pipeline(guest: TinyGuest, args: argparse.Namespace) -> dict[str, float]:
    host = Host(source=("--uri", URI), run_dir=Path(tempfile.mkdtemp(prefix="scb", dir="/tmp")))
    host.start()
    try:
        opened = host.open(guest.name)
        console = Console(websocket.create_connection(opened["ws_url"], timeout=TIMEOUT))
        try:
            return measure(console.send, console.read_until, args)
        finally:
            console.close()
    finally:
        host.finish()


def through_libvirt(guest: TinyGuest, args: argparse.Namespace) -> dict[str, float]:
    console = guest.direct_console()
    try:
        return measure(console.send, console.read_until, args)
    finally:
        console.close()


def print_table(pipeline: dict[str, float], direct: dict[str, float]) -> None:
    print(f"{'measure':<24}{'pipeline':>12}{'direct':>12}{'ratio':>9}")
    for name, value in pipeline.items():
        print(f"{name:<24}{value:>12.2f}{direct[name]:>12.2f}{value / direct[name]:>9.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echoes", type=int, default=50, help="echo round trips per side")
    parser.add_argument("--seq", type=int, default=20000, help="N of the bulk `seq N`")
    args = parser.parse_args()
    daemons = Daemons(Path(tempfile.mkdtemp(prefix="sclv", dir="/tmp")))
    if unreachable(URI) is not None:
        if not running_as_root():
            parser.error(f"no libvirtd answers at {URI}, and only root can start one")
        daemons.start()
    guest = TinyGuest(URI, build() / SINGLE, "bench")
    try:
        started = time.perf_counter()
        guest.boot()
        print(
            f"domain start {guest.start_seconds:.2f} s, start to shell prompt "
            f"{time.perf_counter() - started:.1f} s; {args.echoes} echoes, seq {args.seq}"
        )
        direct = through_libvirt(guest, args)
        pipeline = through_pipeline(guest, args)
    finally:
        guest.destroy()
        daemons.stop()
        shutil.rmtree(daemons.workdir, ignore_errors=True)
    print_table(pipeline, direct)
    return 0


if __name__ == "__main__":
    sys.exit(main())
