"""A hypervisor lost while its consoles are open (issue 16, "Failures"): one host serves
the TLS daemon (``tls``) and the TCP one (``tcp``), a console open on each one's twin
guest. The TLS link pulled ends its console with a last line naming the hypervisor, shows
it unreachable, leaves the TCP console echoing, and leaves nothing of the lost session
behind; once the link is back a new console opens and echoes. Captures likewise: the lost
hypervisor's ends, saying so in its log, and comes back by itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import Host, assert_final_line, wait_for
from tests.realguest.consoles import answer_42, shell
from tests.realguest.guests import TinyGuest

from .remote_daemons import TCP, TLS, RemoteDaemon

HYPERVISOR_UNREACHABLE = "SCONS0132L"
# libvirt's keepalive (5 s x 3, libvirtloop.KEEPALIVE) closes a silent connection after at
# most 20 s; the rest is slack for a loaded machine
UNREACHABLE_BOUND = 35.0
# back within the longest pause between retries (30 s), and the connect itself
BACK_BOUND = 45.0
SESSION_END_BOUND = 15.0  # the process lets go of libvirt (bounded: 10 s) and exits
CAPTURE_BOUND = 15.0  # a running guest captured: the keeper's recheck (5 s) and the start


@pytest.fixture
def two_hypervisor_host(hypervisors: dict[str, RemoteDaemon]) -> Iterator[Callable[..., Host]]:
    """``two_hypervisor_host(*options)``: a started host serving the TLS daemon as ``tls``
    and the TCP one as ``tcp``; each is stopped and checked clean after."""
    hosts: list[Host] = []

    def start(*options: str) -> Host:
        source = ("--hypervisor", f"{TLS}={hypervisors[TLS].uri}",
                  "--hypervisor", f"{TCP}={hypervisors[TCP].uri}")  # fmt: skip
        hosts.append(Host(*options, source=source))
        hosts[-1].start().settled_hypervisors()  # the first connects may outlast the start
        return hosts[-1]

    yield start
    for host in reversed(hosts):
        host.finish()


def states(host: Host) -> dict[str, dict]:
    return {hv["name"]: hv for hv in host.get("/hypervisors").json()}


def console_path(hypervisor: str, guest: TinyGuest) -> str:
    return f"hypervisors/{hypervisor}/vms/{guest.name}/serial"


def open_on(host: Host, connect, hypervisor: str, guest: TinyGuest):
    opened = host.post(console_path(hypervisor, guest))
    assert opened.status_code == 201, opened.text
    console = connect(opened.json()["ws_url"])
    shell(console)
    answer_42(console)
    return console


def capture_of(host: Host, hypervisor: str, guest: TinyGuest) -> dict | None:
    return next(
        (s for s in host.sessions()
         if s["guest"] == guest.name and s["hypervisor"] == hypervisor and s["capture"]),
        None,
    )  # fmt: skip


def test_a_pulled_link_ends_its_console_saying_so_spares_the_other_and_heals(
    two_hypervisor_host: Callable[..., Host],
    connect,
    hypervisors: dict[str, RemoteDaemon],
    twin_guests: dict[str, TinyGuest],
):
    host, daemon, guest = two_hypervisor_host(), hypervisors[TLS], twin_guests[TLS]
    assert {name: hv["state"] for name, hv in states(host).items()} == {
        TLS: "connected",
        TCP: "connected",
    }
    lost = open_on(host, connect, TLS, guest)
    spared = open_on(host, connect, TCP, twin_guests[TCP])

    daemon.set_link(up=False)
    try:
        line = assert_final_line(lost.read_until_close(UNREACHABLE_BOUND), HYPERVISOR_UNREACHABLE)
        assert line.startswith(f"The hypervisor qemu+tls://{daemon.address}/system?pkipath=*** ")
        assert str(daemon.client_pki) not in line
        wait_for(
            lambda: states(host)[TLS]["state"] == "unreachable",
            UNREACHABLE_BOUND,
            "the TLS hypervisor shown unreachable",
        )
        assert states(host)[TCP]["state"] == "connected"
        answer_42(spared)  # the other hypervisor's console echoes on
        wait_for(  # its console process has exited, its sockets and tokens gone
            lambda: [s["hypervisor"] for s in host.sessions()] == [TCP],
            SESSION_END_BOUND,
            "only the TCP session left",
        )
        refused = host.post(console_path(TLS, guest))
        assert (refused.status_code, refused.json()["code"]) == (503, "SCONS0081E")
        assert host.delete(console_path(TCP, twin_guests[TCP])).status_code == 204
        host.assert_idle()  # no session, socket, token or console process left
    finally:
        daemon.set_link(up=True)
    wait_for(
        lambda: states(host)[TLS]["state"] == "connected",
        BACK_BOUND,
        "the TLS hypervisor connected again",
    )
    guest.reconnect()  # the fixture's own connection, for its teardown
    open_on(host, connect, TLS, guest)
    assert str(daemon.client_pki) not in host.full_log()


def test_a_lost_hypervisors_capture_ends_saying_so_and_comes_back_by_itself(
    two_hypervisor_host: Callable[..., Host],
    hypervisors: dict[str, RemoteDaemon],
    twin_guests: dict[str, TinyGuest],
    tmp_path: Path,
):
    host = two_hypervisor_host("--capture", "all", "--state-dir", str(tmp_path / "state"))
    daemon, guest = hypervisors[TLS], twin_guests[TLS]
    wait_for(
        lambda: capture_of(host, TLS, guest) and capture_of(host, TCP, twin_guests[TCP]),
        CAPTURE_BOUND,
        "both twins captured",
    )
    daemon.set_link(up=False)
    try:
        wait_for(lambda: not capture_of(host, TLS, guest), UNREACHABLE_BOUND, "its capture ended")
        assert capture_of(host, TCP, twin_guests[TCP])  # the other one's goes on
    finally:
        daemon.set_link(up=True)
    wait_for(lambda: capture_of(host, TLS, guest), BACK_BOUND + CAPTURE_BOUND, "captured again")
    guest.reconnect()  # the fixture's own connection, for its teardown
    log = host.get(f"{console_path(TLS, guest)}/log")
    assert log.status_code == 200, log.text
    ended = f"The hypervisor qemu+tls://{daemon.address}/system?pkipath=*** is unreachable"
    assert ended.encode() in log.content
