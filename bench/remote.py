"""The remote part: a tiny guest on a libvirtd in namespaces of its own (tests/multihv),
reached over ``qemu+tls://`` on a veth pair; a second libvirtd, reached over ``qemu+tcp://``
and without guests, is the host's other hypervisor. Through the plugin's whole pipeline
(host, console process, proxy, WebSocket) side by side with a libvirt console stream opened
right here over the same URI, in alternating order (``bench.sides``): open → first byte,
echo round trips and ``seq`` throughput. Then the TLS daemon's link is pulled: ``GET /vms``
once the host shows the hypervisor unreachable.

It needs root (network namespaces, a libvirtd of its own), iproute2, gnutls-bin's certtool,
libvirtd, QEMU and the tiny guest; without them it is skipped, and says why.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import libvirt
import requests

from bench import real, sides
from bench.mock import start_host
from bench.real import Skipped
from bench.terminal import BenchFailure, percentile
from tests.integration.helpers import Host
from tests.multihv.remote_daemons import TCP, TLS, RemoteDaemon, missing_tools
from tests.realguest.daemons import running_as_root
from tests.realguest.guests import SINGLE, TinyGuest, build

HTTP_TIMEOUT = 30.0  # a GET /vms on a pulled link waits for libvirt's keepalive (≤ 20 s)
STATE_TIMEOUT = 60.0  # the hypervisor shown unreachable, or connected again


@contextmanager
def daemon_up(transport: str) -> Iterator[RemoteDaemon]:
    """A libvirtd reached over ``transport`` in its namespaces; stopped and removed after."""
    workdir = Path(tempfile.mkdtemp(prefix="schv", dir="/tmp"))
    daemon = RemoteDaemon(workdir, f"bench{transport}", transport)
    try:
        try:
            daemon.start()
        except Exception as error:  # noqa: BLE001 (any failure to set up means: skip)
            raise Skipped(f"a {transport}-reached libvirtd could not be set up: {error}") from error
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(daemon.workdir, ignore_errors=True)


@contextmanager
def remote_guest() -> Iterator[tuple[RemoteDaemon, RemoteDaemon, TinyGuest]]:
    """The TLS daemon with one booted tiny guest on it, and the TCP daemon."""
    if not running_as_root():
        raise Skipped("only root makes network namespaces and starts a libvirtd")
    if missing := missing_tools():
        raise Skipped(f"not installed: {', '.join(missing)}")
    if shutil.which("qemu-system-x86_64") is None:
        raise Skipped("QEMU is not installed (Debian: qemu-system-x86)")
    with ExitStack() as stack:
        tls, tcp = stack.enter_context(daemon_up(TLS)), stack.enter_context(daemon_up(TCP))
        try:
            guest = TinyGuest(tls.uri, build() / SINGLE, "remote")
        except Exception as error:  # noqa: BLE001 (any failure of the builder means: skip)
            raise Skipped(f"the tiny guest could not be built: {error}") from error
        try:
            yield tls, tcp, guest.boot()
        except libvirt.libvirtError as error:
            raise Skipped(f"the tiny guest could not be started: {error}") from error
        finally:
            guest.destroy()


def timed_get(host: Host, path: str) -> tuple[float, int]:
    """(seconds, HTTP status) of one GET on a new connection."""
    began = time.perf_counter()
    response = requests.get(host.api(path), headers={"Connection": "close"}, timeout=HTTP_TIMEOUT)
    return time.perf_counter() - began, response.status_code


def default_state(host: Host) -> str:
    return {hv["name"]: hv["state"] for hv in host.get("/hypervisors").json()}["default"]


def wait_state(host: Host, state: str) -> float:
    """Seconds until the default hypervisor shows ``state``."""
    began = time.monotonic()
    while default_state(host) != state:
        if time.monotonic() - began > STATE_TIMEOUT:
            raise BenchFailure(f"the TLS hypervisor not {state} after {STATE_TIMEOUT:g} s")
        time.sleep(0.1)
    return time.monotonic() - began


def unreachable_figures(host: Host, daemon: RemoteDaemon, count: int) -> dict:
    """``GET /vms`` with the TLS daemon reachable and once the host shows it unreachable
    after its link was pulled; how long the host took to notice, and to connect again.

    Nothing asks the host for guests between the pull and its noticing: with libvirt 9.0 a
    call that waits behind another on a connection its keepalive closes never returns, and
    the host crashes later (see ``host.connection``'s ``_watch``).
    """
    reachable = [timed_get(host, "vms")[0] for _ in range(count)]
    daemon.set_link(up=False)
    try:
        noticed = wait_state(host, "unreachable")
        unreachable = [timed_get(host, "vms") for _ in range(count)]
    finally:
        daemon.set_link(up=True)
    back = wait_state(host, "connected")
    latencies = [seconds for seconds, _status in unreachable]
    return {
        "reachable_p50_ms": percentile(reachable, 0.5) * 1000,
        "noticed_s": noticed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "max_ms": max(latencies) * 1000,
        "statuses": sorted({status for _seconds, status in unreachable}),
        "back_s": back,
    }


def run(args: argparse.Namespace) -> dict:
    with remote_guest() as (tls, tcp, guest):
        host = start_host(source=("--uri", tls.uri, "--hypervisor", f"tcp={tcp.uri}"))
        try:
            figures: dict = {"open": real.open_figures(host, guest, args.opens)}
            shared = {"libvirtd": tls.process.pid, "qemu": tls.guest_pid(guest.name)}
            figures.update(sides.summarize(sides.side_by_side(host, guest, args, shared)))
            figures["unreachable"] = unreachable_figures(host, tls, args.rest_requests)
        finally:
            host.finish()
        guest.reconnect()  # its own connection, for the teardown, after the pulled link
        figures["guest"] = {"domain_start_s": guest.start_seconds}
        return figures
