"""Memory and concurrency on the mock model: many sessions open at once, one per guest of a
generated test-driver file, each checked to echo correctly; memory and idle CPU around them;
then the refusals at ``max_sessions`` + 1 and past the proxy's handler cap.

The host allows ``--sessions`` + MARGIN of each; the part fills that margin before asking
for one more."""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import websocket

from bench import procs
from bench.mock import PROMPT, start_host
from bench.opening import Opened, open_console
from bench.terminal import BenchFailure, WsTerminal, percentile
from tests.integration.helpers import Host, config_file, write_test_guests

OPENERS = 16  # REST clients opening consoles at once
ECHO_ROUNDS = 5
SETTLE = 1.0
MARGIN = 10  # max_sessions and max_ws_handlers are --sessions + MARGIN


def open_all(host: Host, names: list[str]) -> tuple[list[Opened], list[str]]:
    """Open one console per guest, OPENERS at a time, each up to its prompt: those that
    opened, and why the others did not."""

    def open_one(name: str) -> Opened | str:
        try:
            opened = open_console(host, name)
        except Exception as error:  # noqa: BLE001 (counted and reported)
            return f"{name}: {type(error).__name__}: {error}"
        try:
            opened.term.read_until(PROMPT)
        except BenchFailure as error:
            opened.term.close()
            return f"{name}: {error}"
        return opened

    with ThreadPoolExecutor(OPENERS) as pool:
        results = list(pool.map(open_one, names))
    return [r for r in results if not isinstance(r, str)], [
        r for r in results if isinstance(r, str)
    ]


def echo_all(consoles: list[Opened]) -> tuple[int, list[float]]:
    """Every session echoes ECHO_ROUNDS unique lines, all sessions at once.

    Returns how many sessions answered every line correctly, and all round trips (s).
    """
    start = threading.Barrier(len(consoles))
    trips: list[float] = []
    correct: list[bool] = []

    def session(number: int, opened: Opened) -> None:
        start.wait()
        try:
            for round_ in range(ECHO_ROUNDS):
                line = b"s%dr%dx" % (number, round_)
                began = time.perf_counter()
                opened.term.send(b"echo " + line + b"\r")
                opened.term.read_until(b"\r\n" + line + b"\r\n" + PROMPT)
                trips.append(time.perf_counter() - began)
        except BenchFailure:
            correct.append(False)
            return
        correct.append(True)

    threads = [threading.Thread(target=session, args=item) for item in enumerate(consoles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(correct), trips


def console_pids(host: Host) -> list[int]:
    return [session["pid"] for session in host.sessions() if session.get("pid")]


def proxy_memory(host: Host) -> tuple[float, float]:
    """The proxy's (PSS, private memory) in MB."""
    pid = procs.proxy_pid(host.proc.pid)
    return procs.pss_mb(pid), procs.private_mb(pid)


def memory(host: Host) -> dict[str, float]:
    """Host process RSS, and the PSS of the host's whole tree (websockify, consoles)."""
    tree = procs.descendants(host.proc.pid)
    return {
        "host_rss_mb": procs.rss_mb(host.proc.pid),
        "tree_pss_mb": sum(procs.pss_mb(pid) for pid in tree),
        "processes": len(tree),
    }


def with_sessions(
    host: Host, names: list[str], idle_seconds: float, proxy_idle_private_mb: float
) -> dict[str, float]:
    started = time.perf_counter()
    consoles, failed = open_all(host, names[: -MARGIN - 1])
    figures: dict = {"open_all_s": time.perf_counter() - started, "opened": len(consoles)}
    figures["open_failures"] = failed[:5]
    try:
        correct, trips = echo_all(consoles) if consoles else (0, [0.0])
        figures.update(correct=correct, echo_p50_ms=1000 * percentile(trips, 0.5))
        figures["echo_p90_ms"] = 1000 * percentile(trips, 0.9)
        pids = console_pids(host)
        figures["console_rss_mb"] = statistics.median(procs.rss_mb(pid) for pid in pids)
        figures["console_rss_max_mb"] = max(procs.rss_mb(pid) for pid in pids)
        figures["console_pss_mb"] = statistics.median(procs.pss_mb(pid) for pid in pids)
        # A session's share of the proxy: what the proxy's own memory grew by, per session.
        figures["proxy_pss_mb_busy"], private = proxy_memory(host)
        relay = (private - proxy_idle_private_mb) / max(1, len(consoles))
        figures["relay_pss_mb"] = relay
        figures["session_pss_mb"] = figures["console_pss_mb"] + relay
        time.sleep(SETTLE)
        figures["idle_cpu_pct"] = procs.idle_cpu_percent(host.proc.pid, idle_seconds)
        figures.update({f"{k}_busy": v for k, v in memory(host).items()})
        figures.update(past_the_limits(host, names[-MARGIN - 1 :]))
    finally:
        for opened in consoles:
            opened.term.close()
    return figures


def refusal(status: int, body: bytes | str) -> str:
    """``503 SCONS0018E``: an HTTP refusal and the code its JSON body carries."""
    try:
        code = json.loads(body).get("code", "no code")
    except (ValueError, AttributeError):
        code = "no code"
    return f"{status} {code}"


def past_the_limits(host: Host, spare: list[str]) -> dict:
    """Fill the margin up to max_sessions, then one console more, then one WebSocket more
    than the proxy's cap: how each is refused, and whether anything is left half-open."""
    extra, _ = open_all(host, spare[:-1])
    try:
        sessions_before = len(host.sessions())
        response = host.post(f"vms/{spare[-1]}/serial")
        over_sessions = refusal(response.status_code, response.text)
        try:
            WsTerminal.connect(f"{host.ws_url}?token=x").close()
            over_handlers = "accepted"
        except websocket.WebSocketBadStatusException as refused:
            over_handlers = refusal(refused.status_code, refused.resp_body)
        half_open = len(host.sessions()) - sessions_before
        half_open += len(console_pids(host)) - sessions_before
        half_open += len(procs.descendants(procs.proxy_pid(host.proc.pid))) - 1  # the proxy
        return {
            "over_sessions": over_sessions,
            "over_handlers": over_handlers,
            "half_open": half_open,
        }
    finally:
        for opened in extra:
            opened.term.close()


def run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    xml, names = write_test_guests(workdir, args.sessions + MARGIN + 1)
    limit = str(args.sessions + MARGIN)
    # OPENERS clients at once; each connection counts until the server has seen it close.
    config = config_file(workdir, "server", connections_per_address=str(4 * OPENERS))
    host = start_host(
        "--config",
        str(config),
        "--reattach-grace",
        "0",
        "--max-sessions",
        limit,
        "--max-ws-handlers",
        limit,
        "--idle-timeout",
        "0",
        source=("--uri", f"test://{xml}"),
    )
    try:
        time.sleep(SETTLE)
        figures = {f"{k}_idle": v for k, v in memory(host).items()}
        figures["proxy_pss_mb_idle"], proxy_private = proxy_memory(host)
        figures["idle_cpu_pct_no_sessions"] = procs.idle_cpu_percent(host.proc.pid, args.idle)
        figures.update(with_sessions(host, names, args.idle, proxy_private))
        figures["sessions"] = args.sessions
        return figures
    finally:
        host.finish()
