"""Every hypervisor the host serves, by name, each with its own shared connection
(``host.connection``): one slow or unreachable hypervisor never holds up the others."""

from __future__ import annotations

import time
from collections.abc import Callable

import libvirt

from plugin_serialconsole.host.connection import HypervisorConnection, HypervisorState
from plugin_serialconsole.hypervisor_uris import DEFAULT_NAME

START_WAIT = 2.0  # seconds a starting host waits, in all, for the first connects


class Hypervisors:
    """The hypervisors of ``uris`` (name -> libvirt URI, in the operator's order)."""

    def __init__(
        self, uris: dict[str, str], opener: Callable[[str], libvirt.virConnect] = libvirt.open
    ) -> None:
        if not uris:
            raise ValueError("no hypervisor to connect to")
        self._connections = {
            name: HypervisorConnection(name, uri, opener) for name, uri in uris.items()
        }

    def start(self, wait: float = START_WAIT) -> None:
        """Start connecting to each; wait (``wait`` s at most, in all) for the first
        attempts, so a host that starts serves its reachable guests from its first request."""
        for connection in self._connections.values():
            connection.start()
        deadline = time.monotonic() + wait
        for connection in self._connections.values():
            connection.wait_first_attempt(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        for connection in self._connections.values():
            connection.stop()

    def add_listener(self, listener: Callable[[HypervisorState], None]) -> None:
        """Have ``listener(state)`` called on each change of any hypervisor's state (on a
        thread that must not wait: see ``HypervisorConnection.add_listener``)."""
        for connection in self._connections.values():
            connection.add_listener(listener)

    def remove_listener(self, listener: Callable[[HypervisorState], None]) -> None:
        for connection in self._connections.values():
            connection.remove_listener(listener)

    def names(self) -> list[str]:
        return list(self._connections)

    def get(self, name: str) -> HypervisorConnection:
        """The hypervisor called ``name``; KeyError if there is none."""
        return self._connections[name]

    def default(self) -> HypervisorConnection:
        """The one of ``[server] uri`` (named ``default``), else the first one named."""
        return self._connections.get(DEFAULT_NAME) or next(iter(self._connections.values()))

    def states(self) -> list[HypervisorState]:
        return [connection.state() for connection in self._connections.values()]
