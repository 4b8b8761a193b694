"""Benchmark of the console pipeline (``make bench``): prints a Markdown table, writes JSON.

    .venv/bin/python -m bench [--reps 5] [--skip-real] [--json build/bench.json] ...

Parts, each measured side by side in one run, medians of several repetitions:
mock (open → first byte, echo, throughput on the simulated console), load (many sessions
at once on the mock model: correctness, memory, idle CPU), attack (half-open handshakes
held on the WebSocket port: a console opened meanwhile, the proxy's processes and memory),
rest (the guest list while idle and trickling connections are held open against the REST
port), real (a booted tiny guest: the pipeline against a direct libvirt stream; skipped,
saying why, without libvirtd/QEMU) and remote (the pipeline against a direct libvirt stream
to a tiny guest on a libvirtd reached over qemu+tls:// in a network namespace, and GET /vms
with that hypervisor's link pulled; skipped likewise).

Not a test: it fails (exit 1) only when something is functionally wrong, never for speed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from bench import attack, capture, load, machine, mock, real, recording, remote, report, rest
from bench.terminal import BenchFailure

REPO = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--reps", type=int, default=5, help="repetitions of echo and throughput (medians)")
    add("--opens", type=int, default=10, help="opens per open → first byte figure")
    add("--echoes", type=int, default=30, help="echo round trips per repetition")
    add("--mock-seq", type=int, default=2_000_000, help="N of `seq N` on the mock model")
    add("--real-seq", type=int, default=50_000, help="N of `seq N` on the real guest")
    add("--sessions", type=int, default=100, help="sessions open at once (load part)")
    add("--idle", type=float, default=5.0, help="seconds over which idle CPU is measured")
    add(
        "--attack-connections",
        type=int,
        default=1000,
        help="half-open handshakes held on the WebSocket port (attack part)",
    )
    add("--rest-requests", type=int, default=50, help="operator GETs timed (rest part)")
    add("--skip-real", action="store_true", help="no real guest (real, remote parts)")
    add(
        "--parts",
        default="mock,load,attack,rest,capture,recording,real,remote",
        help="comma-separated parts to run",
    )
    add("--json", type=Path, default=REPO / "build" / "bench.json", help="JSON output file")
    return parser


def run_parts(args: argparse.Namespace, workdir: Path) -> tuple[dict, dict, list[str]]:
    parts = {
        "mock": lambda: mock.run(args),
        "load": lambda: load.run(args, workdir),
        "attack": lambda: attack.run(args),
        "rest": lambda: rest.run(args, workdir),
        "real": lambda: real.run(args),
        "capture": lambda: capture.run(args, workdir),
        "recording": lambda: recording.run(args, workdir),
        "remote": lambda: remote.run(args),
    }
    wanted = [part for part in args.parts.split(",") if part]
    results: dict = {}
    skipped: dict[str, str] = {}
    failures: list[str] = []
    for name in wanted:
        if name in ("real", "remote") and args.skip_real:
            skipped[name] = "--skip-real"
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = parts[name]()
        except real.Skipped as why:
            skipped[name] = str(why)
        except (BenchFailure, AssertionError) as error:
            failures.append(f"{name}: {error}")
        except Exception as error:  # noqa: BLE001 (reported with the figures, exit 1)
            failures.append(f"{name}: {type(error).__name__}: {error}")
    load_figures = results.get("load")
    if load_figures and load_figures["correct"] != load_figures["sessions"]:
        failures.append(f"load: {load_figures['correct']}/{load_figures['sessions']} echoed right")
    return results, skipped, failures


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    known = {"mock", "load", "attack", "rest", "capture", "recording", "real", "remote", ""}
    unknown = set(args.parts.split(",")) - known
    if unknown:
        build_parser().error(f"unknown parts: {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.WARNING)
    info = machine.describe()
    with tempfile.TemporaryDirectory(prefix="scbench") as workdir:
        results, skipped, failures = run_parts(args, Path(workdir))
    document = report.build(results, skipped, failures, info, args)
    report.write_json(document, args.json)
    print(report.markdown(document, args))
    print(f"\n(JSON: {args.json})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
