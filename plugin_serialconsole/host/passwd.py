"""``serialconsole-passwd``: add, change or remove an operator in the users file."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from plugin_serialconsole.host.passwords import (
    USER_NAME,
    Operator,
    UsersFile,
    hash_password,
    parse_groups,
    parse_users,
)

DEFAULT_USERS_FILE = Path("/etc/serialconsole/users")
MIN_PASSWORD = 8


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serialconsole-passwd",
        description="Set an operator's password in the users file of serialconsole-host "
        "(scrypt hashes, file mode 0600). The password is asked twice on a terminal, "
        "or read as one line from standard input.",
    )
    parser.add_argument("name", help="operator name (letters, digits, _ . @ -)")
    parser.add_argument(
        "--users-file",
        type=Path,
        default=DEFAULT_USERS_FILE,
        help="the users file (default: %(default)s)",
    )
    parser.add_argument(
        "--groups",
        metavar="GROUP,...",
        help="the operator's groups, which rights rules may name (default: keep them)",
    )
    parser.add_argument("--delete", action="store_true", help="remove the operator instead")
    return parser


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("serialconsole-passwd: the passwords differ; nothing changed")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not USER_NAME.fullmatch(args.name):
        parser.error(f"{args.name!r} is not a valid operator name")
    users_file = UsersFile(args.users_file)
    try:
        users = parse_users(args.users_file.read_text())
    except FileNotFoundError:
        users = {}
    if args.delete:
        if users.pop(args.name, None) is None:
            parser.error(f"no operator {args.name} in {args.users_file}")
        users_file.save(users)
        print(f"removed {args.name} from {args.users_file}")
        return 0
    password = read_password()
    if len(password) < MIN_PASSWORD:
        parser.error(f"the password must have at least {MIN_PASSWORD} characters")
    groups = users[args.name].groups if args.name in users else frozenset()
    if args.groups is not None:
        groups = parse_groups(args.groups)
        if groups is None:
            parser.error(f"{args.groups!r} is not a comma-separated list of group names")
    users[args.name] = Operator(hash_password(password), groups)
    users_file.save(users)
    print(f"set the password of {args.name} in {args.users_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
