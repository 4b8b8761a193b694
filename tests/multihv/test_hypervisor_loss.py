"""A hypervisor lost while its console is open (issue 16, "Failures"): the host serves the
TLS daemon's guests (its default hypervisor) and holds a connection to the TCP one too.
The TLS link pulled ends the open console with a last line naming the hypervisor, shows it
unreachable, leaves the TCP daemon connected and its guest's console echoing, and leaves
nothing behind; once the link is back a new console opens and echoes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import Host, assert_final_line, wait_for
from tests.realguest.consoles import answer_42, open_console, shell
from tests.realguest.guests import TinyGuest, prompt

from .remote_daemons import TCP, TLS, RemoteDaemon

HYPERVISOR_UNREACHABLE = "SCONS0132L"
# libvirt's keepalive (5 s x 3, libvirtloop.KEEPALIVE) closes a silent connection after at
# most 20 s; the rest is slack for a loaded machine
UNREACHABLE_BOUND = 35.0
# back within the longest pause between retries (30 s), and the connect itself
BACK_BOUND = 45.0
CAPTURE_BOUND = 15.0  # a running guest captured: the keeper's recheck (5 s) and the start


@pytest.fixture
def tls_default_host(hypervisors: dict[str, RemoteDaemon]) -> Iterator[Callable[..., Host]]:
    """``tls_default_host(*options)``: a started host whose default hypervisor is the TLS
    daemon, with the TCP one named ``tcp``; each is stopped and checked clean after."""
    hosts: list[Host] = []

    def start(*options: str) -> Host:
        source = ("--uri", hypervisors[TLS].uri, "--hypervisor", f"tcp={hypervisors[TCP].uri}")
        hosts.append(Host(*options, source=source))
        return hosts[-1].start()

    yield start
    for host in reversed(hosts):
        host.finish()


def states(host: Host) -> dict[str, dict]:
    return {hv["name"]: hv for hv in host.get("/hypervisors").json()}


def capture_of(host: Host, guest: TinyGuest) -> dict | None:
    return next((s for s in host.sessions() if s["guest"] == guest.name and s["capture"]), None)


def direct_echo(guest: TinyGuest, word: str) -> None:
    """A direct console to ``guest`` (no host in between) echoes ``word``."""
    console = guest.direct_console()
    try:
        console.send(f"echo {word}-$((6*7))\r")
        console.read_until(f"{word}-42\r\n".encode())
        console.read_until(prompt(0))
    finally:
        console.close()


def test_a_pulled_link_ends_its_console_saying_so_and_a_new_one_opens_once_it_is_back(
    tls_default_host: Callable[..., Host],
    connect,
    hypervisors: dict[str, RemoteDaemon],
    twin_guests: dict[str, TinyGuest],
):
    host, daemon = tls_default_host(), hypervisors[TLS]
    guest = twin_guests[TLS]
    assert {name: hv["state"] for name, hv in states(host).items()} == {
        "default": "connected",
        "tcp": "connected",
    }
    console = open_console(host, connect, guest)
    shell(console)
    answer_42(console)

    daemon.set_link(up=False)
    try:
        line = assert_final_line(
            console.read_until_close(UNREACHABLE_BOUND), HYPERVISOR_UNREACHABLE
        )
        assert line.startswith(f"The hypervisor qemu+tls://{daemon.address}/system?pkipath=*** ")
        assert str(daemon.client_pki) not in line
        lost = wait_for(
            lambda: states(host)["default"]["state"] == "unreachable" and states(host),
            UNREACHABLE_BOUND,
            "the TLS hypervisor shown unreachable",
        )
        assert lost["tcp"]["state"] == "connected"
        direct_echo(twin_guests[TCP], "other")  # the other hypervisor serves on
        host.assert_idle()  # no session, socket, token or console process left
        refused = host.post(f"vms/{guest.name}/serial", json={})
        assert refused.status_code == 503, refused.text
    finally:
        daemon.set_link(up=True)
    wait_for(
        lambda: states(host)["default"]["state"] == "connected",
        BACK_BOUND,
        "the TLS hypervisor connected again",
    )
    guest.reconnect()  # the fixture's own connection, for its teardown
    again = open_console(host, connect, guest)
    shell(again)
    answer_42(again)
    assert str(daemon.client_pki) not in host.full_log()


def test_a_lost_hypervisors_capture_ends_saying_so_and_comes_back_by_itself(
    tls_default_host: Callable[..., Host],
    hypervisors: dict[str, RemoteDaemon],
    twin_guests: dict[str, TinyGuest],
    tmp_path: Path,
):
    host = tls_default_host("--capture", "all", "--state-dir", str(tmp_path / "state"))
    daemon, guest = hypervisors[TLS], twin_guests[TLS]
    wait_for(lambda: capture_of(host, guest), CAPTURE_BOUND, "the TLS guest captured")
    daemon.set_link(up=False)
    try:
        wait_for(lambda: not capture_of(host, guest), UNREACHABLE_BOUND, "its capture ended")
        host.assert_idle()
    finally:
        daemon.set_link(up=True)
    wait_for(lambda: capture_of(host, guest), BACK_BOUND + CAPTURE_BOUND, "captured again")
    guest.reconnect()  # the fixture's own connection, for its teardown
    log = host.get(f"vms/{guest.name}/serial/log")
    assert log.status_code == 200, log.text
    ended = f"The hypervisor qemu+tls://{daemon.address}/system?pkipath=*** is unreachable"
    assert ended.encode() in log.content
