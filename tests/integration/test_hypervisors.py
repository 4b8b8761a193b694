"""Many hypervisors on the mock: each its own connection, an unreachable one named as such
and never holding up the others, its credentials never shown."""

from __future__ import annotations

import socket

from plugin_serialconsole.host.config import mock_uri

SECRET = "/secret/pki-of-the-test"


def closed_port() -> int:
    """A loopback port nothing listens on (connects to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_each_hypervisor_is_listed_with_its_state_and_no_credentials(start_host):
    gone = f"qemu+tcp://127.0.0.1:{closed_port()}/system?pkipath={SECRET}"
    host = start_host("--hypervisor", "two=test:///default", "--hypervisor", f"gone={gone}")
    states = host.settled_hypervisors()  # a start waits for the first connects 2 s at most
    assert list(states) == ["default", "two", "gone"]
    assert states["default"]["state"] == "connected"
    assert states["default"]["guests"] == len(host.get("/hypervisors/default/vms").json())
    assert (states["two"]["state"], states["two"]["guests"]) == ("connected", 1)
    assert states["two"]["uri"] == "test:///default"
    unreachable = states["gone"]
    assert (unreachable["state"], unreachable["guests"]) == ("unreachable", None)
    assert unreachable["uri"].endswith("/system?pkipath=***")
    assert unreachable["reason"] and unreachable["since"]
    assert SECRET not in host.get("/hypervisors").text
    assert SECRET not in host.full_log()


def test_one_hypervisor_alone_is_named_default(host):
    (only,) = host.get("/hypervisors").json()
    assert (only["name"], only["state"]) == ("default", "connected")
    assert only["uri"].startswith("test:///")


def test_an_unreachable_uri_answers_503_without_its_credentials(start_host):
    uri = f"qemu+tcp://127.0.0.1:{closed_port()}/system?pkipath={SECRET}"
    host = start_host(source=("--uri", uri))
    refused = host.get("/vms")
    assert (refused.status_code, refused.json()["code"]) == (503, "SCONS0081E")
    assert "pkipath=***" in refused.json()["reason"]
    assert SECRET not in refused.text
    assert SECRET not in host.full_log()


def test_each_guest_names_its_hypervisor(start_host):
    host = start_host(source=("--hypervisor", f"sim={mock_uri()}"))
    guests = host.get("/vms").json()
    assert guests and {guest["hypervisor"] for guest in guests} == {"sim"}
    assert host.get("/vms/mock-vm").json()["hypervisor"] == "sim"
