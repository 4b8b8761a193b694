"""A hypervisor that stops answering ends its guests' consoles, and only theirs.

The host tells each change of a hypervisor's state to a listener (``Host.hypervisors()``'s
``add_listener``); when one becomes unreachable, every console session and capture of its
guests ends with a last line that names it (its URI without credentials) and says why. Its
console processes notice the same by themselves (libvirt's keepalive on their own
connections, ``libvirtloop.KEEPALIVE``); whichever comes first ends them. When it answers
again, the capture keeper's recheck captures its running guests again, and consoles open.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from plugin_serialconsole.model.console_sessions import SessionManager

log = logging.getLogger(__name__)

UNREACHABLE = "unreachable"  # the state the host shows of a hypervisor that stopped answering


class HypervisorLoss:
    """The listener that ends the sessions of a hypervisor gone unreachable."""

    def __init__(self, sessions: SessionManager) -> None:
        self.sessions = sessions

    def changed(self, state: Any) -> None:
        """A hypervisor's state changed (a ``HypervisorState``). Called on a thread that
        must not wait (libvirt's event thread): the sessions end on a thread of their own."""
        if state.state != UNREACHABLE:
            return
        threading.Thread(
            target=self._end,
            args=(state.name, state.uri, state.reason),
            name=f"lost {state.name}",
            daemon=True,
        ).start()

    def _end(self, name: str, shown_uri: str, reason: str) -> None:
        ended = self.sessions.end_hypervisor(name, hypervisor=shown_uri, error=reason)
        if ended:
            log.warning(
                "hypervisor %s (%s) unreachable (%s): %d console sessions ended",
                name, shown_uri, reason, ended,
            )  # fmt: skip
