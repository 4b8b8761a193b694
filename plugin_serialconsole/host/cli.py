"""``serialconsole-host``: run the serial console plugin without another framework."""

from __future__ import annotations

import argparse
import configparser
import logging
import os
import sys
from importlib import resources
from pathlib import Path

from plugin_serialconsole.host.passwd import DEFAULT_USERS_FILE
from plugin_serialconsole.ids import check_socket_dir

LOOPBACK = ("127.0.0.1", "::1", "localhost")

DEFAULT_URI = "qemu:///system"


def mock_uri() -> str:
    """The libvirt test-driver URI of the mock guests shipped with the package."""
    path = resources.files("plugin_serialconsole").joinpath("mock/mock.xml")
    return f"test://{Path(str(path)).resolve()}"


def default_run_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/run/serialconsole")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "serialconsole"
    return Path(f"/tmp/serialconsole-{os.geteuid()}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serialconsole-host",
        description=(
            "Serve the web serial console for libvirt guests: the plugin's REST API on "
            "HTTP and the consoles over a WebSocket proxy (websockify)."
        ),
        epilog=(
            "Examples: serialconsole-host --mock   (simulated guests, no hypervisor needed); "
            "serialconsole-host --uri qemu:///system --host 0.0.0.0"
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--mock",
        action="store_true",
        help="use the mock model: libvirt's test driver with simulated consoles",
    )
    source.add_argument(
        "--uri",
        help="libvirt connection URI (default: $LIBVIRT_DEFAULT_URI "
        f"or {DEFAULT_URI}); any test:/// URI is simulated",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on, HTTP and WebSocket (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8010,
        help="HTTP port of the REST API (default: %(default)s; 0 picks one)",
    )
    parser.add_argument(
        "--ws-port",
        type=int,
        default=64667,
        help="WebSocket proxy port (default: %(default)s; 0 picks one)",
    )
    parser.add_argument(
        "--auth",
        choices=["users", "none"],
        default="users",
        help="users: operators log in with a name and password from --users-file "
        "(HTTP Basic works for API clients); none: no login, allowed only with a "
        "loopback --host (default: %(default)s)",
    )
    parser.add_argument(
        "--users-file",
        type=Path,
        default=DEFAULT_USERS_FILE,
        help="operators and their scrypt password hashes, managed with "
        "serialconsole-passwd (default: %(default)s)",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help=f"private directory for console sockets and tokens (default: {default_run_dir()})",
    )
    parser.add_argument(
        "--token-ttl",
        type=float,
        default=60.0,
        help="seconds a console token stays valid unused (default: %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=1800.0,
        help="seconds without traffic before a console closes; 0 never (default: %(default)s)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=100,
        help="console sessions open at once, at most; more are refused with 503 "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="extra browser Origin allowed to open WebSockets, e.g. "
        "https://console.example.com (repeatable)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level on stderr (default: %(default)s)",
    )
    return parser


def build_config(args: argparse.Namespace) -> configparser.ConfigParser:
    uri = (
        mock_uri()
        if args.mock
        else (args.uri or os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI)
    )
    config = configparser.ConfigParser(interpolation=None)
    config["server"] = {
        "host": args.host,
        "port": str(args.port),
        "ws_port": str(args.ws_port),
        "uri": uri,
        "auth": args.auth,
        "users_file": str(args.users_file.absolute()),
    }
    config["serialconsole"] = {
        "token_ttl": str(args.token_ttl),
        "idle_timeout": str(args.idle_timeout),
        "allowed_origins": " ".join(args.allowed_origin),
        "max_sessions": str(args.max_sessions),
    }
    return config


def check_auth_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.auth == "none":
        if args.host not in LOOPBACK:
            parser.error(
                f"--auth none serves guest consoles to anyone who reaches {args.host}; "
                "it is allowed only with a loopback --host (127.0.0.1, ::1, localhost)"
            )
        return
    if not args.users_file.is_file():
        parser.error(
            f"no users file at {args.users_file}: create one with "
            f"'serialconsole-passwd --users-file {args.users_file} NAME', "
            "or use --auth none on a loopback --host"
        )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.token_ttl <= 0 or args.idle_timeout < 0 or args.max_sessions < 1:
        parser.error("--token-ttl must be > 0, --idle-timeout >= 0 and --max-sessions >= 1")
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    check_auth_options(parser, args)
    run_dir = (args.run_dir or default_run_dir()).absolute()
    try:
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        run_dir.chmod(0o700)
        check_socket_dir(run_dir / "consoles")
    except (OSError, ValueError) as error:
        parser.error(f"run directory: {error}")
    config = build_config(args)

    def announce(urls: list[str]) -> None:
        print(f"serialconsole-host ready (libvirt {config['server']['uri']})", flush=True)
        for url in urls:
            print(f"  {url}", flush=True)

    from plugin_serialconsole.host.server import serve

    return serve(config, run_dir, announce)


if __name__ == "__main__":
    sys.exit(main())
