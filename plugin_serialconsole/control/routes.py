"""Routing for the REST API: a small table of (method, path pattern, handler) rather than
cherrypy's object tree, because guest names are data and may be anything, including the
names of Python attributes. A pattern is a tuple of literal segments, ``GUEST`` (passed
to the handler in order) and ``HYPERVISOR`` (passed as the keyword ``hypervisor``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import cherrypy

from plugin_serialconsole import i18n
from plugin_serialconsole.errors import SerialConsoleError

GUEST = object()  # placeholder for the guest segment in a route
HYPERVISOR = object()  # placeholder for a hypervisor's name in a route

Route = tuple[str, tuple, Callable[..., bytes]]


def find_route(routes: list[Route], method: str, segments: tuple[str, ...]) -> Callable[[], bytes]:
    """The handler for ``method`` on ``segments``, given its arguments (the guest and
    hypervisor segments); 405 (with ``Allow``) when the path has routes for other methods
    only, else 404."""
    allowed = []
    for route_method, pattern, handler in routes:
        args = _match(pattern, segments)
        if args is None:
            continue
        if route_method == method:
            return functools.partial(handler, *args[0], **args[1])
        allowed.append(route_method)
    if allowed:
        cherrypy.response.headers["Allow"] = ", ".join(allowed)
        raise SerialConsoleError(i18n.METHOD_NOT_ALLOWED, 405, method=method)
    raise SerialConsoleError(i18n.RESOURCE_NOT_FOUND, 404, path=cherrypy.request.path_info)


def raw_segments() -> tuple[str, ...] | None:
    """The path after the mount point, split first and then percent-decoded once.

    cherrypy decodes before splitting and turns a literal ``%2F`` into ``/`` as well, so a
    guest named ``a%2Fb`` or ``%2F`` would be looked up as another name.
    """
    request = cherrypy.request
    raw = request.wsgi_environ.get("REQUEST_URI")
    if raw is None:
        return None
    path = urlsplit(raw).path
    if not path.startswith(request.script_name):
        return None
    path = path[len(request.script_name) :]
    return tuple(unquote(segment, errors="replace") for segment in path.split("/") if segment)


def _match(pattern: tuple, segments: tuple[str, ...]) -> tuple[list[str], dict[str, str]] | None:
    if len(pattern) != len(segments):
        return None
    args, keywords = [], {}
    for expected, segment in zip(pattern, segments, strict=True):
        if expected is GUEST:
            args.append(segment)
        elif expected is HYPERVISOR:
            keywords["hypervisor"] = segment
        elif expected != segment:
            return None
    return args, keywords
