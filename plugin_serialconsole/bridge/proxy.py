"""The websockify process: stock WebSocketProxy, extended only through its seams.

Run by the plugin through ``proxy_main`` (which keeps numpy out), with the listening
socket already bound by the parent and passed as ``--listen-fd``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import socket
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from websockify import auth_plugins
from websockify.websocketproxy import WebSocketProxy

from plugin_serialconsole.bridge import reports
from plugin_serialconsole.bridge.accept import AcceptLoop, HandlerLimits
from plugin_serialconsole.bridge.handler import ConsoleRequestHandler
from plugin_serialconsole.bridge.relay import Relay
from plugin_serialconsole.bridge.reports import ReportWriter
from plugin_serialconsole.bridge.tokens import LoginBinding, TokenStore
from plugin_serialconsole.ids import is_socket_name
from plugin_serialconsole.logfmt import configure_stderr
from plugin_serialconsole.netloc import cookie_value, origin_allowed
from plugin_serialconsole.rights import Rights, RightsFile

log = logging.getLogger(__name__)


class OriginCheck(auth_plugins.BasePlugin):
    """websockify auth plugin refusing browser WebSockets from foreign origins."""

    def __init__(self, allowed_origins: Iterable[str] = ()) -> None:
        super().__init__(None)
        self.allowed_origins = tuple(allowed_origins)

    def authenticate(self, headers, target_host, target_port) -> None:
        origin = headers.get("Origin")
        if not origin_allowed(origin, headers.get("Host"), self.allowed_origins):
            raise auth_plugins.InvalidOriginError(
                expected=f"the Host header's hostname or {list(self.allowed_origins)}",
                actual=origin,
            )


def _carries_session(cookie_header: str, binding: LoginBinding) -> bool:
    value = cookie_value(cookie_header, binding.cookie)
    if value is None:
        return False
    presented = hashlib.sha256(value.encode()).hexdigest()
    return hmac.compare_digest(presented, binding.digest)


@dataclass(frozen=True)
class Lookup:
    """What a token opens (``target``), or why it opens nothing (``refused``, a kind of
    ``reports``), with the console socket and operator it was issued for once read."""

    target: list[str] | None
    refused: str | None = None
    socket: str | None = None
    operator: str | None = None


class ConsoleTokens:
    """websockify token plugin: a one-time token -> the Unix socket made for it."""

    def __init__(self, tokens: TokenStore, sockets_dir: Path, rights: Rights | None = None) -> None:
        self.tokens = tokens
        self.sockets_dir = sockets_dir
        self.rights = rights or Rights()

    def lookup(self, token: str, cookie_header: str = "") -> list[str] | None:
        """The console's socket, if ``token`` is valid and, when it was issued to a login
        session, the handshake carries that session's cookie. A token is spent either way."""
        return self.resolve(token, cookie_header).target

    def resolve(self, token: str, cookie_header: str = "") -> Lookup:
        """``lookup``, saying why a token opens nothing."""
        record = self.tokens.consume(token)
        if record is None or not is_socket_name(record.socket):
            return Lookup(None, reports.UNKNOWN_TOKEN)
        refused = partial(Lookup, None, socket=record.socket)
        operator = record.access.subject.user if record.access is not None else None
        if record.binding is not None and not _carries_session(cookie_header, record.binding):
            log.warning("refused a console token presented without its login session")
            return refused(reports.NO_LOGIN, operator=operator)
        if not self._still_allowed(record):
            return refused(reports.NO_RIGHT, operator=operator)
        path = self.sockets_dir / record.socket
        try:
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                return refused(reports.NO_CONSOLE, operator=operator)
        except FileNotFoundError:
            return refused(reports.NO_CONSOLE, operator=operator)
        return Lookup(["unix_socket", str(path)], socket=record.socket, operator=operator)

    def _still_allowed(self, record) -> bool:
        """Whether the operator the token was issued to still has the right it needs."""
        if not self.rights.enforced:
            return True
        access = record.access
        if access is None:
            log.warning("refused a console token that names no operator")
            return False
        if self.rights.allows(access.subject, access.hypervisor, access.guest, access.right):
            return True
        log.warning(
            "refused the console token of operator %s: no %s right on guest %s "
            "(hypervisor %s) any more",
            access.subject.user, access.right, access.guest, access.hypervisor,
        )  # fmt: skip
        return False


class ConsoleProxy(WebSocketProxy):
    """WebSocketProxy serving every connection in this one process: an event loop (see
    ``accept``) runs websockify's request handler on each complete handshake and relays
    the upgraded ones. It ends when the host does: its stdin is the host's lifeline, and
    end of file there means the host is gone (even killed with SIGKILL)."""

    def __init__(
        self, limits: HandlerLimits, reports: ReportWriter | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self.reports = reports or ReportWriter()

    def start_server(self) -> None:
        listener = socket.socket(fileno=os.dup(self.listen_fd))  # its own family: IPv4 or 6
        self.started()
        os.close(self.listen_fd)
        AcceptLoop(listener, sys.stdin.fileno(), self.serve, self.limits, self.reports).run()

    def serve(self, sock: socket.socket, address: tuple) -> Relay | None:
        """Run the request handler on ``sock`` (what ``top_new_client`` does, without its
        ``select()`` and TLS sniffing): the ``Relay`` of an upgraded console connection,
        or None once the request was answered or refused."""
        try:
            handler = self.RequestHandlerClass(sock, (*address[:2], False), self)
        except self.EClose as refused:  # answered and reported; logged here once
            if refused.args[0]:
                log.info("%s: %s", address[0], refused.args[0])
            return None
        return handler.relay


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="websockify bridge for serial consoles")
    parser.add_argument("--listen-fd", type=int, required=True, help="bound TCP socket fd")
    parser.add_argument("--tokens-dir", type=Path, required=True)
    parser.add_argument("--sockets-dir", type=Path, required=True)
    parser.add_argument("--allowed-origin", action="append", default=[])
    parser.add_argument("--max-handlers", type=int, required=True)
    parser.add_argument("--handshake-timeout", type=float, required=True)
    parser.add_argument("--rights-file", type=Path, help="rules checked when a token is used")
    parser.add_argument("--report-fd", type=int, help="pipe to report refusals to the host on")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = args.log_level.upper()
    configure_stderr(level, "websockify[%(process)d]")
    # Read when a token is used; one that cannot be read then grants nothing.
    rights = Rights(RightsFile(args.rights_file) if args.rights_file else None)
    tokens = TokenStore(args.tokens_dir).open()
    proxy = ConsoleProxy(
        HandlerLimits(args.max_handlers, args.handshake_timeout),
        ReportWriter(args.report_fd),
        RequestHandlerClass=ConsoleRequestHandler,
        listen_fd=args.listen_fd,
        token_plugin=ConsoleTokens(tokens, args.sockets_dir, rights),
        auth_plugin=OriginCheck(args.allowed_origin),
        verbose=level == "DEBUG",
    )
    proxy.start_server()
    return 0


if __name__ == "__main__":
    sys.exit(main())
