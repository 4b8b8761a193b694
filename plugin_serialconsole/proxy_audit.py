"""The WebSocket proxy's refusals in the audit trail, as the REST API's are.

The proxy reports each connection it refused (``bridge.reports``); here its client is
resolved from the peer and forwarding headers with the host's ``trusted_proxies``, as
a REST request's is, and a console named by the refused token is looked up in the open
sessions for its guest, device and console session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugin_serialconsole import audit
from plugin_serialconsole.bridge.reports import Refusal
from plugin_serialconsole.host.forwarded import TrustedProxies

if TYPE_CHECKING:
    from plugin_serialconsole.audit import AuditTrail
    from plugin_serialconsole.model.console_sessions import SessionManager


class ProxyRefusals:
    """Writes each refusal the proxy reports as a ``denied`` event."""

    def __init__(
        self, trail: AuditTrail, sessions: SessionManager, proxies: TrustedProxies
    ) -> None:
        self.trail = trail
        self.sessions = sessions
        self.proxies = proxies

    def __call__(self, refusal: Refusal) -> None:
        client = self.proxies.client_address(refusal.peer, refusal.forwarded)
        owner = self.sessions.socket_owner(refusal.socket) if refusal.socket else None
        console = {}
        if owner is not None:
            guest, device, session = owner
            console = {
                "hypervisor": guest.hypervisor,
                "guest": guest.name,
                "uuid": guest.uuid,
                "device": device,
                "session": session,
            }
        self.trail.record(
            audit.DENIED,
            operator=refusal.operator,
            client=client,
            **console,
            status=refusal.status,
            code=refusal.code,
            refused=refusal.refused,
        )
