"""One host, two hypervisors over libvirt's remote protocol (issue 16): consoles on the
TLS hypervisor's guest and the TCP one's open at once through the plugin (REST, then
WebSocket) and both echo; the twin guests' shared name needs qualifying."""

from __future__ import annotations

from tests.integration.helpers import Host
from tests.realguest.consoles import answer_42, shell
from tests.realguest.guests import TinyGuest

from .remote_daemons import TCP, TLS


def test_consoles_on_both_hypervisors_at_once_and_the_twin_name_qualified(
    fleet_host: Host, twin_guests: dict[str, TinyGuest], connect
):
    host, name = fleet_host, twin_guests[TLS].name
    assert twin_guests[TCP].name == name and twin_guests[TCP].uuid == twin_guests[TLS].uuid
    for path in (f"vms/{name}/serial", f"vms/{twin_guests[TLS].uuid}/serial"):
        ambiguous = host.post(path)
        assert (ambiguous.status_code, ambiguous.json()["code"]) == (409, "SCONS0080E")
        assert f"{TLS}, {TCP}" in ambiguous.json()["reason"]
    consoles = {}
    for hypervisor in (TLS, TCP):
        opened = host.post(f"hypervisors/{hypervisor}/vms/{name}/serial")
        assert opened.status_code == 201, opened.text
        assert f"&hypervisor={hypervisor}" in opened.json()["page"]
        consoles[hypervisor] = connect(opened.json()["ws_url"])
    for console in consoles.values():  # both open at once
        shell(console)
    for console in consoles.values():
        answer_42(console)
    sessions = {s["hypervisor"]: s for s in host.sessions() if s["guest"] == name}
    assert set(sessions) == {TLS, TCP}
    assert sessions[TLS]["pid"] != sessions[TCP]["pid"]
