"""Hypervisors by name: the ``[hypervisors]`` section (``name = URI``), and libvirt URIs
made fit to show.

A libvirt URI may carry credentials parameters (``pkipath=``, ``keyfile=``,
``known_hosts=``, ...): ``redact_uri`` is the one way a URI reaches the API or a log.
"""

from __future__ import annotations

import configparser
import re
from urllib.parse import parse_qsl, urlsplit

SECTION = "hypervisors"
DEFAULT_NAME = "default"  # the hypervisor of ``[server] uri`` (``--uri``)
MAX_NAME_LENGTH = 64
_NAME = re.compile(rf"[a-z0-9][a-z0-9_.-]{{0,{MAX_NAME_LENGTH - 1}}}")
HIDDEN = "***"
# The parameters of libvirt's remote URIs that name a credential or where one is kept
# (https://libvirt.org/uri.html#remote-uris: the TLS certificates' directory, the SSH
# private key and known hosts files, the auth.conf file, and the SSH or netcat command
# and socket paths): their values never show.
CREDENTIALS = frozenset(
    {"pkipath", "keyfile", "known_hosts", "authfile", "command", "netcat", "socket"}
)


def redact_uri(uri: str) -> str:
    """``uri`` with every query parameter's value and any password replaced by ``***``.

    Which parameters are secret depends on the transport and on libvirt's version, so no
    value is shown: ``qemu+tls://hv1/system?pkipath=***``.
    """
    try:
        parts = urlsplit(uri)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.partition(":")[0]
            netloc = f"{user}{':' + HIDDEN if ':' in userinfo else ''}@{hostport}"
        params = parse_qsl(parts.query, keep_blank_values=True)
        query = "&".join(f"{name}={HIDDEN}" for name, _value in params)
        if parts.query and not params:
            query = HIDDEN
        shown = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else HIDDEN
        return f"{shown}?{query}" if query else shown
    except ValueError:
        return HIDDEN


def redact_message(message: str, uri: str) -> str:
    """``message`` (e.g. libvirt's error on connecting to ``uri``) without the values of
    ``uri``'s credentials parameters or its password, which libvirt may quote (a missing
    key's path). Each is hidden where it stands as a whole value (a path may go on with
    ``/`` or ``.pub``), never inside a word or a number: other text stays as it is."""
    try:
        parts = urlsplit(uri)
        secrets = [value for name, value in parse_qsl(parts.query) if name in CREDENTIALS and value]
        secrets += [parts.password] if parts.password else []
    except ValueError:
        return HIDDEN
    for secret in sorted(secrets, key=len, reverse=True):
        whole = re.compile(rf"(?<![\w.~/-]){re.escape(secret)}(?![\w-])")
        message = whole.sub(HIDDEN, message)
    return message


def check_name(name: str) -> str:
    """``name`` if it can name a hypervisor (in URLs and ids); else ValueError."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"hypervisor name {name!r}: lower-case letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit, at most {MAX_NAME_LENGTH} characters"
        )
    return name


def parse_assignment(text: str) -> tuple[str, str]:
    """``NAME=URI`` (``--hypervisor``) as (name, URI); ValueError if malformed."""
    name, sep, uri = text.partition("=")
    if not sep or not uri.strip():
        raise ValueError(f"expected NAME=URI, not {redact_uri(text)!r}")
    return check_name(name.strip().lower()), uri.strip()


def hypervisors_from_config(config: configparser.ConfigParser) -> dict[str, str]:
    """Every hypervisor by name, in the order given: ``[hypervisors]``, or, without one,
    ``[server] uri`` alone under the name ``default``."""
    if config.has_section(SECTION):
        defaults = set(config.defaults())
        named = {
            check_name(name): uri.strip()
            for name, uri in config.items(SECTION, raw=True)
            if name not in defaults
        }
        empty = [name for name, uri in named.items() if not uri]
        if empty:
            raise ValueError(f"{', '.join(empty)}: no URI")
        if named:
            return named
    return {DEFAULT_NAME: config["server"]["uri"]}
