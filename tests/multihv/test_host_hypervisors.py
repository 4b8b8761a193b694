"""One serialconsole-host serving both test hypervisors: each its own connection, one
pulled link seen as such within libvirt's keepalive bound, and back by itself."""

from __future__ import annotations

from tests.integration.helpers import Host, wait_for
from tests.realguest.guests import TinyGuest

from .remote_daemons import TCP, TLS, RemoteDaemon

# the host's keepalive (5 s x 3) closes a silent connection after ~20 s; the rest is slack
UNREACHABLE_BOUND = 30.0
# back within the longest pause between retries (30 s), and the connect itself
BACK_BOUND = 45.0


def states(host: Host) -> dict[str, dict]:
    return {hv["name"]: hv for hv in host.get("/hypervisors").json()}


def test_both_hypervisors_connected_and_a_pulled_link_seen_and_healed(
    fleet_host: Host, hypervisors: dict[str, RemoteDaemon], twin_guests: dict[str, TinyGuest]
):
    host = fleet_host
    listed = states(host)
    assert [(hv["name"], hv["state"], hv["guests"]) for hv in listed.values()] == [
        ("tls", "connected", 1),
        ("tcp", "connected", 1),
    ]
    pki = str(hypervisors[TLS].client_pki)
    assert listed["tls"]["uri"].endswith("?pkipath=***")
    assert pki not in host.get("/hypervisors").text and pki not in host.full_log()
    listed_guests = [(guest["hypervisor"], guest["name"]) for guest in host.get("/vms").json()]
    assert listed_guests == [(TLS, twin_guests[TLS].name), (TCP, twin_guests[TCP].name)]

    hypervisors[TLS].set_link(up=False)
    gone = wait_for(
        lambda: states(host)["tls"]["state"] == "unreachable" and states(host),
        UNREACHABLE_BOUND,
        "the tls hypervisor shown unreachable",
    )
    assert gone["tls"]["reason"] and gone["tls"]["guests"] is None
    assert (gone["tcp"]["state"], gone["tcp"]["guests"]) == ("connected", 1)
    listed = host.get("/vms")  # answered at once while the link is still down
    assert [(guest["hypervisor"], guest["state"]) for guest in listed.json()] == [
        (TLS, "unreachable"),  # as last listed, greyed
        (TCP, "running"),
    ]
    refused = host.post(f"/hypervisors/tls/vms/{twin_guests[TLS].name}/serial")
    assert (refused.status_code, refused.json()["code"]) == (503, "SCONS0081E")
    assert pki not in refused.text

    hypervisors[TLS].set_link(up=True)
    wait_for(
        lambda: states(host)["tls"]["state"] == "connected",
        BACK_BOUND,
        "the tls hypervisor connected again",
    )
    states_now = [(guest["hypervisor"], guest["state"]) for guest in host.get("/vms").json()]
    assert states_now == [(TLS, "running"), (TCP, "running")]
