"""Who the client really is when a reverse proxy stands in front of the host.

Behind nginx every request comes from the proxy's address, so login throttling and logs
would see one client. A proxy says who its client was in ``X-Forwarded-For`` (each proxy
appends the address it got the request from) or ``X-Real-IP``; anyone can send those
headers, so they count only from the configured ``trusted_proxies``. The client is the
right-most address of the chain that is not a trusted proxy: everything left of it was
written by the client itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"127.0.0.1 ::1 10.0.0.0/8"`` (spaces or commas) as networks; ValueError if not."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {item!r}") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address as proxies write it (``[::1]``, ``192.0.2.1:5000`` too), or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose forwarding headers are believed (none: headers are ignored)."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        return cls(parse_networks(text))

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client_address(self, peer: str, headers: Mapping[str, str]) -> str:
        """The address of the client behind ``peer``, per the headers trusted proxies set."""
        current = parse_address(peer)
        if not self.trusts(current):
            return peer
        forwarded = headers.get("X-Forwarded-For", "")
        hops = [hop for hop in forwarded.split(",") if hop.strip()]
        if not hops and headers.get("X-Real-IP", "").strip():
            hops = [headers["X-Real-IP"]]
        return str(self._right_most_untrusted(current, hops))

    def _right_most_untrusted(self, peer: Address, hops: Iterable[str]) -> Address:
        client = peer
        for hop in reversed(list(hops)):
            if not self.trusts(client):
                break
            address = parse_address(hop)
            if address is None:
                break  # garbage a trusted proxy passed on: the proxy is the client we know
            client = address
        return client
