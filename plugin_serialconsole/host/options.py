"""The command line of ``serialconsole-host``: its options, and the configuration key each
one overrides.

Each option given on the command line overrides its key in the configuration file; the
help of each names it (``[section] key``). Options have no defaults of their own: the
defaults live with the section's owner (``host.config`` for ``[server]`` and
``[logging]``, the plugin for ``[serialconsole]``), so there is one place for each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_serialconsole.host import config as host_config
from plugin_serialconsole.host.passwd import DEFAULT_USERS_FILE
from plugin_serialconsole.hypervisor_uris import SECTION as HYPERVISORS
from plugin_serialconsole.hypervisor_uris import parse_assignment

# argparse destination -> (section, key) it overrides
OPTION_KEYS: dict[str, tuple[str, str]] = {
    "mock": ("server", "mock"),
    "mock_hypervisors": ("server", "mock_hypervisors"),
    "uri": ("server", "uri"),
    "host": ("server", "host"),
    "port": ("server", "port"),
    "ws_port": ("server", "ws_port"),
    "auth": ("server", "auth"),
    "users_file": ("server", "users_file"),
    "run_dir": ("server", "run_dir"),
    "trusted_proxy": ("server", "trusted_proxies"),
    "token_ttl": ("serialconsole", "token_ttl"),
    "idle_timeout": ("serialconsole", "idle_timeout"),
    "max_sessions": ("serialconsole", "max_sessions"),
    "reattach_grace": ("serialconsole", "reattach_grace"),
    "ring_size": ("serialconsole", "ring_size"),
    "max_viewers": ("serialconsole", "max_viewers"),
    "rights_file": ("serialconsole", "rights_file"),
    "allowed_origin": ("serialconsole", "allowed_origins"),
    "websocket_url": ("serialconsole", "websocket_url"),
    "max_ws_handlers": ("serialconsole", "max_ws_handlers"),
    "ws_handshake_timeout": ("serialconsole", "ws_handshake_timeout"),
    "escape_key": ("serialconsole", "escape_key"),
    "allow_break": ("serialconsole", "allow_break"),
    "capture": ("serialconsole", "capture"),
    "state_dir": ("serialconsole", "state_dir"),
    "log_size": ("serialconsole", "log_size"),
    "audit_log": ("serialconsole", "audit_log"),
    "record_input": ("serialconsole", "record_input"),
    "log_level": ("logging", "level"),
    "log_file": ("logging", "file"),
}
# argparse destination -> the section whose NAME = value entries it adds
OPTION_SECTIONS: dict[str, str] = {"hypervisor": HYPERVISORS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serialconsole-host",
        description=(
            "Serve the web serial console for libvirt guests: the plugin's REST API on "
            "HTTP and the consoles over a WebSocket proxy (websockify). Each option "
            "overrides its key in the configuration file; [section] key names it."
        ),
        epilog=(
            "Examples: serialconsole-host --mock   (simulated guests, no hypervisor needed); "
            "serialconsole-host --config /etc/serialconsole/serialconsole.conf"
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        help=f"configuration file (default: {host_config.DEFAULT_PATH}, if it exists)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--mock",
        action="store_const",
        const="yes",
        help="use the mock model: libvirt's test driver with simulated consoles [server] mock",
    )
    source.add_argument(
        "--uri",
        help="libvirt connection URI; any test:/// URI is simulated [server] uri "
        f"(default: $LIBVIRT_DEFAULT_URI or {host_config.DEFAULT_URI})",
    )
    add = parser.add_argument
    add(
        "--mock-hypervisors",
        type=int,
        metavar="N",
        help="with --mock: how many simulated hypervisors, 1 or 2 (the second, 'mock2', "
        "has other guests and a copy of mock-vm) [server] mock_hypervisors (default: 1)",
    )
    add(
        "--hypervisor",
        action="append",
        type=hypervisor_option,
        metavar="NAME=URI",
        help="one more hypervisor by name, repeatable; --uri (or --mock) is the one "
        "named 'default' [hypervisors] NAME = URI",
    )
    add("--host", help="address to listen on, HTTP and WebSocket [server] host")
    add("--port", type=int, help="HTTP port of the REST API; 0 picks one [server] port")
    add("--ws-port", type=int, help="WebSocket proxy port; 0 picks one [server] ws_port")
    add(
        "--auth",
        choices=host_config.AUTH_MODES,
        help="users: operators log in with a name and password from the users file "
        "(HTTP Basic works for API clients); none: no login, allowed only with a "
        "loopback --host [server] auth (default: users)",
    )
    add(
        "--users-file",
        type=Path,
        help="operators and their scrypt password hashes, managed with "
        f"serialconsole-passwd [server] users_file (default: {DEFAULT_USERS_FILE})",
    )
    add("--run-dir", type=Path, help="private directory for console sockets [server] run_dir")
    add(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS",
        help="reverse proxy (address or network) whose X-Forwarded-For / X-Real-IP name "
        "the client, for login throttling and logs, e.g. 127.0.0.1 behind the shipped "
        "nginx; repeatable [server] trusted_proxies (default: none)",
    )
    add("--token-ttl", type=float, help="seconds a token stays valid [serialconsole] token_ttl")
    add(
        "--idle-timeout",
        type=float,
        help="seconds without traffic before a console closes, 0 never "
        "[serialconsole] idle_timeout",
    )
    add(
        "--max-sessions",
        type=int,
        help="console sessions open at once, at most; more are refused with 503 "
        "[serialconsole] max_sessions",
    )
    add(
        "--reattach-grace",
        type=float,
        metavar="S",
        help="seconds a console whose client left (not with Ctrl+Q) waits for a writer to "
        "reattach, reading on; 0: leaving ends it [serialconsole] reattach_grace",
    )
    add(
        "--ring-size",
        type=int,
        metavar="BYTES",
        help="recent output each console keeps for reattaching clients, viewers and the "
        "transcript [serialconsole] ring_size",
    )
    add(
        "--max-viewers",
        type=int,
        metavar="N",
        help="read-only viewers per console, at most; 0: none [serialconsole] max_viewers",
    )
    add(
        "--rights-file",
        metavar="PATH",
        help="rules granting operators and groups rights on guests; re-read when it changes; "
        "unset: every operator has every right [serialconsole] rights_file",
    )
    add(
        "--allowed-origin",
        action="append",
        metavar="ORIGIN",
        help="extra browser Origin allowed to open WebSockets, e.g. "
        "https://console.example.com; repeatable [serialconsole] allowed_origins",
    )
    add(
        "--websocket-url",
        metavar="TEMPLATE",
        help="WebSocket URL handed to browsers, e.g. wss://{host}/websockify "
        "[serialconsole] websocket_url",
    )
    add(
        "--max-ws-handlers",
        type=int,
        metavar="N",
        help="WebSocket connections served at once (a process each), at most; more are "
        "refused with 503 [serialconsole] max_ws_handlers",
    )
    add(
        "--ws-handshake-timeout",
        type=float,
        metavar="S",
        help="seconds a client connected to the WebSocket port has to send its whole "
        "request; it gets no process before [serialconsole] ws_handshake_timeout",
    )
    add(
        "--escape-key",
        metavar="KEY",
        help="the key that ends a console session and never reaches the guest, unless "
        "the page picks another: ctrl-q, ctrl-] or none (the Disconnect button only) "
        "[serialconsole] escape_key",
    )
    add(
        "--allow-break",
        action="store_const",
        const="yes",
        help="let operators send a Break on a serial line (QEMU's monitor passthrough, "
        "which libvirt marks as tainting the guest) [serialconsole] allow_break",
    )
    add(
        "--capture",
        choices=("all", "none"),
        help="all: keep a console process on every running guest's consoles and log what "
        "they print (see capture_include / capture_exclude); none: consoles exist only "
        "while opened [serialconsole] capture",
    )
    add(
        "--state-dir",
        type=Path,
        help="private directory for the capture logs [serialconsole] state_dir (default: "
        "$STATE_DIRECTORY, /var/lib/serialconsole as root, else the XDG state dir)",
    )
    add(
        "--log-size",
        type=int,
        metavar="BYTES",
        help="bytes of a console's capture log before it is rotated (one older "
        "generation is kept) [serialconsole] log_size",
    )
    add(
        "--audit-log",
        metavar="PATH",
        help="append the audit trail (JSON lines, 0600) to this file; no: keep none "
        "[serialconsole] audit_log (default: <state_dir>/audit.log)",
    )
    add(
        "--record-input",
        choices=("yes", "no"),
        help="yes: a capture also keeps what a console's writer types (typed passwords "
        "too), so its recordings show input [serialconsole] record_input",
    )
    add(
        "--log-level",
        type=str.upper,
        choices=host_config.LOG_LEVELS,
        help="[logging] level (default: INFO)",
    )
    add("--log-file", help="append logs to this file instead of stderr [logging] file")
    return parser


def hypervisor_option(text: str) -> tuple[str, str]:
    """``--hypervisor NAME=URI``; argparse reports a ValueError as a usage error."""
    try:
        return parse_assignment(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def overrides(args: argparse.Namespace) -> dict[tuple[str, str], str]:
    """The (section, key) values the command line sets."""
    values: dict[tuple[str, str], str] = {}
    for dest, section in OPTION_SECTIONS.items():
        for name, value in getattr(args, dest) or ():
            values[(section, name)] = value
    for dest, key in OPTION_KEYS.items():
        value = getattr(args, dest)
        if value is None:
            continue
        values[key] = " ".join(value) if isinstance(value, list) else str(value)
    if args.uri is not None:
        values[OPTION_KEYS["mock"]] = "no"  # --uri on the command line beats mock = yes
    return values
