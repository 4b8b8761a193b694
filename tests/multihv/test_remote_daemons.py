"""The test hypervisors themselves, straight through libvirt-python from the host side:
one over ``qemu+tls://``, one over ``qemu+tcp://``, each in its own namespaces with its own
guest, a direct console to each, and a link pulled and put back."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import libvirt
import pytest

from tests.realguest.guests import DirectConsole, TinyGuest, connect, prompt

from .remote_daemons import TCP, TLS, RemoteDaemon

KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 1, 2
# keepalive gives up after interval * (count + 1) s without an answer; the rest is slack
KEEPALIVE_BOUND = 15.0
STRAY_TIMEOUT = 10.0


def _in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Run ``call`` on a daemon thread; the list gets its result or its exception."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except libvirt.libvirtError as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_each_hypervisor_answers_over_its_transport_with_its_own_guest(
    hypervisors: dict[str, RemoteDaemon], twin_guests: dict[str, TinyGuest]
):
    assert urlsplit(hypervisors[TLS].uri).scheme == "qemu+tls"
    assert urlsplit(hypervisors[TCP].uri).scheme == "qemu+tcp"
    twins, qemus = set(), set()
    for transport, daemon in hypervisors.items():
        conn = connect(daemon.uri)
        try:
            assert conn.getURI().startswith(f"qemu+{transport}://{daemon.address}/")
            domains = conn.listAllDomains()
            assert [domain.name() for domain in domains] == [twin_guests[transport].name]
            twins.add((domains[0].name(), domains[0].UUIDString()))
        finally:
            conn.close()
        # the guest's QEMU runs in the daemon's network namespace, beside the daemon
        qemu = daemon.guest_pid(twin_guests[transport].name)
        assert {daemon.process.pid, qemu} <= set(daemon.namespace.pids())
        qemus.add(qemu)
    assert len(twins) == 1, "the same name and UUID on both hypervisors"
    assert len(qemus) == 2, "each its own QEMU"
    assert hypervisors[TLS].address != hypervisors[TCP].address


def test_a_guest_made_on_one_hypervisor_is_not_seen_by_the_other(
    hypervisors: dict[str, RemoteDaemon], twin_guests: dict[str, TinyGuest], remote_guest
):
    extra = remote_guest(hypervisors[TCP], boot=False)
    seen = {}
    for transport, daemon in hypervisors.items():
        conn = connect(daemon.uri)
        try:
            seen[transport] = sorted(domain.name() for domain in conn.listAllDomains())
        finally:
            conn.close()
    assert seen == {
        TCP: sorted([twin_guests[TCP].name, extra.name]),
        TLS: [twin_guests[TLS].name],
    }


def test_a_direct_console_to_each_guest_echoes(twin_guests: dict[str, TinyGuest]):
    consoles: list[DirectConsole] = []
    try:
        for transport, guest in twin_guests.items():
            consoles.append(guest.direct_console())
            consoles[-1].send(f"echo {transport}-$((6*7))\r")
        for transport, console in zip(twin_guests, consoles, strict=True):
            console.read_until(f"{transport}-42\r\n".encode())
            console.read_until(prompt(0))
    finally:
        for console in consoles:
            console.close()


def test_link_down_ends_a_keepalive_call_in_bound_and_link_up_serves_again(
    hypervisors: dict[str, RemoteDaemon], twin_guests: dict[str, TinyGuest]
):
    daemon, other = hypervisors[TLS], hypervisors[TCP]
    conn = connect(daemon.uri)
    conn.setKeepAlive(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)
    assert conn.listAllDomains()
    daemon.set_link(up=False)
    try:
        call, outcome = _in_thread(conn.listAllDomains)
        call.join(KEEPALIVE_BOUND)
        assert not call.is_alive(), f"a call still hangs {KEEPALIVE_BOUND} s after link down"
        assert isinstance(outcome[0], libvirt.libvirtError), outcome
        untouched = connect(other.uri)
        try:
            assert [d.name() for d in untouched.listAllDomains()] == [twin_guests[TCP].name]
        finally:
            untouched.close()
    finally:
        daemon.set_link(up=True)
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()
    guest = twin_guests[TLS]
    guest.reconnect()
    console = guest.direct_console()
    try:
        console.send("echo back-$((6*7))\r")
        console.read_until(b"back-42\r\n")
    finally:
        console.close()


def test_stop_kills_and_names_a_process_left_in_the_namespace(tmp_path: Path):
    daemon = RemoteDaemon(tmp_path / "stray", "stray", TCP)
    (tmp_path / "stray").mkdir()
    try:
        daemon.start()
        stray = subprocess.Popen(["nsenter", f"--net={daemon.namespace.path}", "sleep", "600"])
    except BaseException:
        daemon.stop()
        raise
    try:
        with pytest.raises(RuntimeError, match=str(stray.pid)):
            daemon.stop()
        assert stray.wait(STRAY_TIMEOUT) == -signal.SIGKILL
        assert not daemon.namespace.exists()
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
