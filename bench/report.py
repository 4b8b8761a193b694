"""The bench's table (Markdown, so a run pastes into the README) and its JSON, with each
target of issue 6 marked met or missed (what the figures were measured on: ``machine``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

IDLE_CPU_LIMIT = 1.0  # % of one core: what "idle CPU ≈ 0" is held to


@dataclass
class Target:
    name: str
    figure: str
    target: str
    met: bool | None  # None: not measured in this run


def _get(results: dict, path: str) -> Any:
    value: Any = results
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def targets(results: dict) -> list[Target]:
    """Each target of the issue against this run's figure."""

    def check(name: str, path: str, text: str, ok: Callable[[Any], bool], fmt: str) -> Target:
        value = _get(results, path)
        if value is None:
            return Target(name, "not measured", text, None)
        return Target(name, fmt.format(value), text, bool(ok(value)))

    load = results.get("load") or {}
    correct = f"{load.get('correct')}/{load.get('sessions')}" if load else None
    n = load.get("sessions", 0)
    refusals = (
        f"{load['over_sessions']} / {load['over_handlers']}, {load['half_open']} half-open"
        if "over_sessions" in load
        else "not measured"
    )
    refused_right = (
        load.get("over_sessions") == "503 SCONS0018E"
        and load.get("over_handlers") == "503 SCONS0070E"
        and load.get("half_open") == 0
    )
    return [
        check("open → first byte p50, mock", "mock.open.p50_s", "≤ 0.25 s",
              lambda v: v <= 0.25, "{:.3f} s"),
        check("open → first byte p50, real", "real.open.p50_s", "≤ 0.5 s",
              lambda v: v <= 0.5, "{:.3f} s"),
        check("throughput, real, pipeline / direct", "real.throughput.ratio", "≥ 0.95×",
              lambda v: v >= 0.95, "{:.2f}×"),
        check("echo overhead p50 over direct", "real.echo.overhead_p50_ms", "≤ 1 ms",
              lambda v: v <= 1.0, "{:+.2f} ms"),
        check("throughput, remote (qemu+tls), pipeline / direct", "remote.throughput.ratio",
              "≥ 0.95×", lambda v: v >= 0.95, "{:.2f}×"),
        check("echo overhead p50 over direct, remote (qemu+tls)",
              "remote.echo.overhead_p50_ms", "≤ 1 ms", lambda v: v <= 1.0, "{:+.2f} ms"),
        check("GET /vms, a hypervisor shown unreachable (max)", "remote.unreachable.max_ms",
              "< 1 s", lambda v: v < 1000, "{:.0f} ms"),
        check("throughput, mock pipeline", "mock.throughput.mb_s", "≥ 50 MB/s",
              lambda v: v >= 50, "{:.0f} MB/s"),
        check("RSS per console process (max)", "load.console_rss_max_mb", "≤ 30 MB",
              lambda v: v <= 30, "{:.1f} MB"),
        Target("concurrent sessions echoing correctly", correct or "not measured", "all of ≥ 100",
               None if not load else load["correct"] == load["sessions"] >= 100),
        Target("time to open 1000 sessions, 16 REST clients",
               f"{load['open_all_s']:.1f} s" if n >= 1000 else "--sessions 1000 only", "≤ 15 s",
               load["open_all_s"] <= 15 if n >= 1000 else None),
        check(f"PSS per session (console + its relay), {n} sessions", "load.session_pss_mb",
              "≤ 5 MB", lambda v: v <= 5, "{:.1f} MB"),
        check("PSS of one idle session, real guest", "real.idle.session_pss_mb", "≤ 12 MB",
              lambda v: v <= 12, "{:.1f} MB"),
        Target("at max_sessions + 1 / past the proxy cap", refusals,
               "503 SCONS0018E / 503 SCONS0070E, 0 half-open",
               None if "over_sessions" not in load else refused_right),
        check("idle CPU, all sessions idle", "load.idle_cpu_pct", f"≈ 0 (≤ {IDLE_CPU_LIMIT:g}%)",
              lambda v: v <= IDLE_CPU_LIMIT, "{:.2f}% of a core"),
        check("guest list, 500 idle + 50 trickling conns (max)", "rest.max_ms", "< 1 s",
              lambda v: v < 1000, "{:.0f} ms"),
        check("open → first byte p50, captured mock guest", "capture.open.p50_s", "≤ 0.1 s",
              lambda v: v <= 0.1, "{:.3f} s"),
        check("open → first byte p50, captured real guest", "real.captured_open.p50_s",
              "≤ 0.1 s", lambda v: v <= 0.1, "{:.3f} s"),
        check("capture process PSS (max)", "capture.pss_max_mb", "≤ 6 MB",
              lambda v: v <= 6, "{:.1f} MB"),
        check("PSS per idle capture (median)", "capture.pss_mb", "≤ 4 MB",
              lambda v: v <= 4, "{:.2f} MB"),
        check("all captures up after host start", "capture.up_s", "≤ 5 s",
              lambda v: v <= 5, "{:.1f} s"),
        check("idle CPU, all captures idle", "capture.idle_cpu_pct",
              f"≈ 0 (≤ {IDLE_CPU_LIMIT:g}%)", lambda v: v <= IDLE_CPU_LIMIT, "{:.2f}% of a core"),
        check("throughput, captured / not captured (mock)", "capture.throughput_ratio",
              "≥ 0.95×", lambda v: v >= 0.95, "{:.2f}×"),
        check("throughput, captured / not captured (real)", "real.captured_throughput.ratio",
              "≥ 0.95×", lambda v: v >= 0.95, "{:.2f}×"),
        check("throughput, record_input = yes / not captured (real)",
              "real.recorded_throughput.ratio", "≥ 0.95×", lambda v: v >= 0.95, "{:.2f}×"),
        check("throughput, record_input = no / not captured (mock)",
              "recording.input_no_ratio", "≥ 0.95×", lambda v: v >= 0.95, "{:.2f}×"),
        check("throughput, record_input = yes / not captured (mock)",
              "recording.input_yes_ratio", "≥ 0.95×", lambda v: v >= 0.95, "{:.2f}×"),
    ]  # fmt: skip


def _fig(results: dict, fmt: str, unit: str, paths: tuple[str, ...]) -> str:
    """The values at ``paths`` joined with " / ", then the unit; "–" if any is missing."""
    values = [_get(results, path) for path in paths]
    if not paths or any(value is None for value in values):
        return "–"
    return " / ".join(fmt.format(value) for value in values) + unit


def figure_rows(results: dict, args: Any) -> list[tuple[str, str, str]]:
    """(measure, pipeline, direct stream) for everything measured."""
    n = args.sessions
    a = args.attack_connections
    rows = [
        ("open → first byte p50 / p90, mock", "{:.3f}", " s",
         ("mock.open.p50_s", "mock.open.p90_s"), ()),
        ("open → first byte p50 / p90, real", "{:.3f}", " s",
         ("real.open.p50_s", "real.open.p90_s"),
         ("real.open.direct_p50_s", "real.open.direct_p90_s")),
        ("  steps: REST / handshake / first byte, mock", "{:.3f}", " s",
         ("mock.open.rest_s", "mock.open.handshake_s", "mock.open.first_byte_s"), ()),
        ("  steps: REST / handshake / first byte, real", "{:.3f}", " s",
         ("real.open.rest_s", "real.open.handshake_s", "real.open.first_byte_s"), ()),
        ("echo p50 / p90, real", "{:.2f}", " ms",
         ("real.echo.pipeline_p50_ms", "real.echo.pipeline_p90_ms"),
         ("real.echo.direct_p50_ms", "real.echo.direct_p90_ms")),
        ("echo p50 / p90, mock", "{:.2f}", " ms", ("mock.echo.p50_ms", "mock.echo.p90_ms"), ()),
        ("SysRq (POST send) → kernel's answer on the console p50 / p90, mock", "{:.2f}", " ms",
         ("mock.sysrq.p50_ms", "mock.sysrq.p90_ms"), ()),
        ("SysRq → kernel's answer on the console p50 / p90, real", "{:.1f}", " ms",
         ("real.sysrq.pipeline_p50_ms", "real.sysrq.pipeline_p90_ms"),
         ("real.sysrq.direct_p50_ms", "real.sysrq.direct_p90_ms")),
        (f"seq {args.real_seq} throughput, real", "{:.1f}", " KB/s",
         ("real.throughput.pipeline_kb_s",), ("real.throughput.direct_kb_s",)),
        (f"seq {args.mock_seq} throughput, mock", "{:.1f}", " MB/s",
         ("mock.throughput.mb_s",), ()),
        ("open → first byte p50 / p90, remote (qemu+tls)", "{:.3f}", " s",
         ("remote.open.p50_s", "remote.open.p90_s"),
         ("remote.open.direct_p50_s", "remote.open.direct_p90_s")),
        ("echo p50 / p90, remote (qemu+tls)", "{:.2f}", " ms",
         ("remote.echo.pipeline_p50_ms", "remote.echo.pipeline_p90_ms"),
         ("remote.echo.direct_p50_ms", "remote.echo.direct_p90_ms")),
        (f"seq {args.real_seq} throughput, remote (qemu+tls)", "{:.1f}", " KB/s",
         ("remote.throughput.pipeline_kb_s",), ("remote.throughput.direct_kb_s",)),
        ("GET /vms, TLS link up p50 / pulled and shown unreachable p50 / max", "{:.1f}", " ms",
         ("remote.unreachable.reachable_p50_ms", "remote.unreachable.p50_ms",
          "remote.unreachable.max_ms"), ()),
        ("pulled TLS link: shown unreachable after / connected again after", "{:.1f}", " s",
         ("remote.unreachable.noticed_s", "remote.unreachable.back_s"), ()),
        ("console process RSS median / max", "{:.1f}", " MB",
         ("load.console_rss_mb", "load.console_rss_max_mb"), ()),
        ("PSS median: console process + relay (proxy private growth / session) = per session",
         "{:.2f}", " MB",
         ("load.console_pss_mb", "load.relay_pss_mb", "load.session_pss_mb"), ()),
        ("PSS, one idle real-guest session: console + relay (proxy private growth) = session",
         "{:.1f}", " MB",
         ("real.idle.console_pss_mb", "real.idle.relay_pss_mb", "real.idle.session_pss_mb"),
         ()),
        (f"proxy PSS (the one process relaying all), 0 / {n} sessions", "{:.1f}", " MB",
         ("load.proxy_pss_mb_idle", "load.proxy_pss_mb_busy"), ()),
        (f"host RSS, 0 / {n} sessions", "{:.1f}", " MB",
         ("load.host_rss_mb_idle", "load.host_rss_mb_busy"), ()),
        (f"all processes PSS, 0 / {n} sessions", "{:.0f}", " MB",
         ("load.tree_pss_mb_idle", "load.tree_pss_mb_busy"), ()),
        (f"open {n} sessions, 16 REST clients: time, opened, echoed", "{:.1f}", "",
         ("load.open_all_s", "load.opened", "load.correct"), ()),
        (f"echo p50 / p90, {n} sessions at once", "{:.1f}", " ms",
         ("load.echo_p50_ms", "load.echo_p90_ms"), ()),
        (f"idle CPU, {n} / 0 sessions", "{:.2f}", "% of a core",
         ("load.idle_cpu_pct", "load.idle_cpu_pct_no_sessions"), ()),
        (f"ws attack, {a} half-open handshakes: console open → first byte", "{:.3f}", " s",
         ("attack.open_s",), ()),
        ("ws attack: processes the proxy started before / peak / after", "{:.0f}", "",
         ("attack.handlers_baseline", "attack.handlers_peak", "attack.handlers_after"), ()),
        ("ws attack: proxy PSS before / peak / after", "{:.1f}", " MB",
         ("attack.pss_mb_baseline", "attack.pss_mb_peak", "attack.pss_mb_after"), ()),
        ("REST attack, 500 idle + 50 trickling conns: GET /vms p50, quiet / attacked / "
         "quiet after", "{:.1f}", " ms",
         ("rest.quiet_p50_ms", "rest.p50_ms", "rest.quiet_after_p50_ms"), ()),
        ("REST attack: GET /vms p90 / max", "{:.1f}", " ms", ("rest.p90_ms", "rest.max_ms"), ()),
        ("REST attack: host threads before / peak / after", "{:.0f}", "",
         ("rest.threads_before", "rest.threads_peak", "rest.threads_after"), ()),
        ("REST attack: host fds before / peak / after", "{:.0f}", "",
         ("rest.fds_before", "rest.fds_peak", "rest.fds_after"), ()),
        ("REST attack: host RSS before / peak / after", "{:.1f}", " MB",
         ("rest.rss_mb_before", "rest.rss_mb_peak", "rest.rss_mb_after"), ()),
        ("audit log: one append p50 / p99 (what a request waits for)", "{:.1f}", " µs",
         ("rest.audit.append_p50_us", "rest.audit.append_p99_us"), ()),
        ("audit log: GET /audit?limit=100 over 6 full files: s / peak Python MB", "{:.3f}",
         "", ("rest.audit.read_limit100_s", "rest.audit.read_limit100_peak_python_mb"), ()),
        ("audit log: GET /audit, 1000 found in the newest file (s)", "{:.2f}", "",
         ("rest.audit.read_newest_s",), ()),
        ("audit log: GET /audit reading all 6 full files: s / peak Python MB", "{:.1f}",
         "", ("rest.audit.read_all_s", "rest.audit.read_peak_python_mb"), ()),
        (f"captures of {n} mock guests: all up after host start", "{:.1f}", " s",
         ("capture.up_s",), ()),
        ("capture process PSS median / max; all processes PSS", "{:.1f}", " MB",
         ("capture.pss_mb", "capture.pss_max_mb", "capture.tree_pss_mb"), ()),
        ("PSS of a console process not captured (a client, idle)", "{:.2f}", " MB",
         ("capture.plain_pss_mb",), ()),
        ("open → first byte p50 / p90, captured mock guest", "{:.3f}", " s",
         ("capture.open.p50_s", "capture.open.p90_s"), ()),
        ("open → first byte p50 / p90, captured real guest", "{:.3f}", " s",
         ("real.captured_open.p50_s", "real.captured_open.p90_s"), ()),
        (f"seq {args.mock_seq} throughput, mock, captured / not captured", "{:.1f}", " MB/s",
         ("capture.captured_mb_s", "capture.plain_mb_s"), ()),
        (f"seq {args.real_seq} throughput, real, captured / not captured", "{:.0f}", " KB/s",
         ("real.captured_throughput.kb_s", "real.throughput.pipeline_kb_s"), ()),
        (f"seq {args.real_seq} throughput, real, captured with record_input = yes", "{:.0f}",
         " KB/s", ("real.recorded_throughput.kb_s",), ()),
        ("console process CPU per 100 MB of seq, captured / not captured", "{:.2f}", " s",
         ("capture.captured_cpu_s", "capture.plain_cpu_s"), ()),
        (f"seq {args.mock_seq} throughput, mock, record_input yes / no / not captured",
         "{:.1f}", " MB/s", ("recording.input_yes_mb_s", "recording.input_no_mb_s",
                             "recording.plain_mb_s"), ()),
        ("console process CPU per 100 MB of seq, record_input yes / no / not captured / "
         "yes with 64 MiB logs", "{:.2f}", " s",
         ("recording.input_yes_cpu_s_per_100mb", "recording.input_no_cpu_s_per_100mb",
          "recording.plain_cpu_s_per_100mb", "recording.input_yes_64mib_cpu_s_per_100mb"), ()),
        ("disk written per MB of seq output, record_input yes / no (1 MiB logs: a flood "
         "rotates most away unwritten) / yes with 64 MiB logs", "{:.0f}", " bytes",
         ("recording.input_yes_disk_bytes_per_mb", "recording.input_no_disk_bytes_per_mb",
          "recording.input_yes_64mib_disk_bytes_per_mb"), ()),
        (f"idle CPU, {n} captures", "{:.2f}", "% of a core", ("capture.idle_cpu_pct",), ()),
    ]  # fmt: skip
    return [
        (label, _fig(results, fmt, unit, pipeline), _fig(results, fmt, unit, direct))
        for label, fmt, unit, pipeline, direct in rows
    ]


def markdown(report: dict, args: Any) -> str:
    m = report["machine"]
    lines = [
        f"{m['date']}: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}, "
        f"Python {m['python']}, libvirt {m['libvirt']}, {m['qemu'] or 'no QEMU'}; load average "
        f"{m['load_at_start'][0]:.2f} at the start. {args.opens} opens; {args.reps} repetitions "
        f"of {args.echoes} echoes (percentiles over all) and of each `seq` (median).",
        "",
        "| measure | pipeline | direct stream |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in figure_rows(report["results"], args)),
        "",
        "| target | figure | wanted | |",
        "|---|---|---|---|",
    ]
    for t in report["targets"]:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['name']} | {t['figure']} | {t['target']} | {verdict} |")
    for part, why in report["skipped"].items():
        lines.append(f"\nSkipped: {part}: {why}")
    for failure in report["failures"]:
        lines.append(f"\nFAILED: {failure}")
    return "\n".join(lines)


def build(results: dict, skipped: dict, failures: list[str], info: dict, args: Any) -> dict:
    return {
        "machine": info,
        "options": vars(args) | {"json": str(args.json)},
        "results": results,
        "skipped": skipped,
        "failures": failures,
        "targets": [asdict(t) for t in targets(results)],
    }


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
