"""A network namespace reached from the host over a veth pair with private addresses.

One ``/30`` per namespace out of ``10.231.0.0/16``: the host end gets ``.1``, the namespace
end ``.2``. Removing the namespace removes its end of the pair, and with it the host end.
The link can be set down and up again from the host side, as a cable pulled and put back.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

NETWORK = ipaddress.ip_network("10.231.0.0/16")
NETNS_DIR = Path("/run/netns")
_IFNAME_MAX = 15
LINK_UP_TIMEOUT = 10.0
POLL_INTERVAL = 0.05


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], check=True, capture_output=True, text=True)
    return done.stdout


def _free_subnet() -> ipaddress.IPv4Network:
    """The first /30 of NETWORK no address on this host is in."""
    used = set()
    for line in _ip("-o", "-4", "addr", "show").splitlines():
        address = ipaddress.ip_interface(line.split()[3])
        if address.ip in NETWORK:
            used.add(ipaddress.ip_network(f"{address.ip}/30", strict=False))
    for subnet in NETWORK.subnets(new_prefix=30):
        if subnet not in used:
            return subnet
    raise RuntimeError(f"every /30 of {NETWORK} is in use")


class NetworkNamespace:
    """``ip netns`` NAME with one veth pair; ``address`` is the namespace end's."""

    def __init__(self, label: str) -> None:
        tag = f"{label}{os.getpid()}"
        self.name = f"sc-{tag}"
        self.host_link = f"h{tag}"[:_IFNAME_MAX]
        self.inner_link = f"n{tag}"[:_IFNAME_MAX]
        self.subnet: ipaddress.IPv4Network | None = None

    @property
    def path(self) -> Path:
        """What ``nsenter --net=`` takes."""
        return NETNS_DIR / self.name

    @property
    def host_address(self) -> str:
        return str(self.subnet[1])

    @property
    def address(self) -> str:
        return str(self.subnet[2])

    def create(self) -> NetworkNamespace:
        self.subnet = _free_subnet()
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.host_link, "type", "veth",
                "peer", "name", self.inner_link, "netns", self.name)  # fmt: skip
            _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_link)
            _ip("link", "set", self.host_link, "up")
            inside = ("-n", self.name)
            _ip(*inside, "addr", "add", f"{self.address}/30", "dev", self.inner_link)
            _ip(*inside, "link", "set", self.inner_link, "up")
            _ip(*inside, "link", "set", "lo", "up")
        except subprocess.CalledProcessError:
            self.remove()
            raise
        log.info("namespace %s at %s (host end %s)", self.name, self.address, self.host_address)
        return self

    def set_link(self, up: bool) -> None:
        """The namespace's end of the pair down (nothing passes either way) or up again.

        Up returns once the host's end carries packets again (the kernel turns a carrier on
        with a delay of up to a second) and without what the host's ARP cache learnt while
        the link was down (a failed entry answers "No route to host" for a while).
        """
        _ip("-n", self.name, "link", "set", self.inner_link, "up" if up else "down")
        if not up:
            return
        operstate = Path("/sys/class/net") / self.host_link / "operstate"
        deadline = time.monotonic() + LINK_UP_TIMEOUT
        while operstate.read_text().strip() != "up":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.host_link} not up after {LINK_UP_TIMEOUT} s")
            time.sleep(POLL_INTERVAL)
        _ip("neigh", "flush", "dev", self.host_link)

    def pids(self) -> list[int]:
        """The processes that live in the namespace."""
        if not self.path.exists():
            return []
        return [int(pid) for pid in _ip("netns", "pids", self.name).split()]

    def exists(self) -> bool:
        """Whether anything of it is left: the namespace or the host's end of the pair."""
        host_link = subprocess.run(
            ["ip", "link", "show", self.host_link], capture_output=True, check=False
        )
        return self.path.exists() or host_link.returncode == 0

    def remove(self) -> None:
        """The namespace and the pair gone; no error for what is gone already."""
        if self.path.exists():
            _ip("netns", "delete", self.name)
        subprocess.run(["ip", "link", "delete", self.host_link], capture_output=True, check=False)
