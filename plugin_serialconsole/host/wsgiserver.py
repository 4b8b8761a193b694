"""cherrypy's WSGI server (cheroot) with the connection gate in front of its workers.

cheroot 11 has no setting that keeps a slow client off a worker thread, but it has the
seams: ``process_conn`` (every new or kept-alive connection passes there on its way to
the thread pool) and ``ConnectionClass``. ``GatedServer`` sends connections through
``gate.ConnectionGate`` at the first and counts their closing with the second.
"""

from __future__ import annotations

import configparser
import logging
import resource

import cherrypy
from cheroot.server import HTTPConnection
from cherrypy._cpwsgi_server import CPWSGIServer

from plugin_serialconsole.host.forwarded import TrustedProxies
from plugin_serialconsole.host.gate import ConnectionGate, GateLimits

log = logging.getLogger(__name__)

FD_RESERVE = 100  # file descriptors the host needs besides its clients' connections


class GatedConnection(HTTPConnection):
    """cheroot's connection, which tells the gate when it closes."""

    gate: ConnectionGate | None = None
    admitted = False  # the gate has seen it
    counted = False  # and counts it as open
    counted_address: str | None = None  # against this address's cap

    def close(self) -> None:
        super().close()
        if self.gate is not None and self.counted:
            self.gate.forget(self)


class GatedServer(CPWSGIServer):
    """cherrypy's WSGI server whose connections reach a worker only with a complete request."""

    def __init__(self, server_adapter: cherrypy._cpserver.Server, limits: GateLimits) -> None:
        # A class of our own per server: cherrypy sets the request handler on the class.
        self.ConnectionClass = type("Connection", (GatedConnection,), {})
        super().__init__(server_adapter)
        self.gate = ConnectionGate(limits, self._to_workers)
        self.ConnectionClass.gate = self.gate

    def prepare(self) -> None:
        self.gate.start()
        super().prepare()

    def stop(self) -> None:
        # The gate first: what it would dispatch later would wait for workers that are gone.
        self.gate.stop()
        super().stop()

    def _to_workers(self, conn: GatedConnection) -> None:
        conn.socket.settimeout(self.timeout)  # cheroot's per-read timeout, as it set it
        super().process_conn(conn)

    def process_conn(self, conn: GatedConnection) -> None:
        if not conn.admitted:
            conn.admitted = True
            if not self.gate.admit(conn):
                return
        self.gate.hold(conn)


def limits_from_config(server: configparser.SectionProxy, proxies: TrustedProxies) -> GateLimits:
    """The gate's limits from ``[server]`` (checked by ``config``); ``max_connections``
    lowered to what the open-files limit leaves room for."""
    total = server.getint("max_connections")
    room = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - FD_RESERVE
    if room < total:
        log.warning(
            "[server] max_connections = %s lowered to %s: the open files limit is %s",
            total,
            max(room, 1),
            room + FD_RESERVE,
        )
        total = max(room, 1)
    return GateLimits(
        header_timeout=server.getfloat("header_timeout"),
        body_timeout=server.getfloat("body_timeout"),
        per_address=server.getint("connections_per_address"),
        total=total,
        proxies=proxies,
    )
