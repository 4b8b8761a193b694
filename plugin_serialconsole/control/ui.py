"""The browser UI's files: where they live, and serving them without leaving that place.

Layout of the UI directory (``ui/`` in a source checkout, built by ``make ui``)::

    index.html, console.html       the pages
    css/, js/, images/, config/    our own files
    node_modules/@xterm/*/{lib,css}/  xterm.js and its addons, from the npm registry
    node_modules/asciinema-player/dist/bundle/  the recordings' player, from there too
    i18n/<lang>.json               the pages' strings, compiled from po/

Only those places and a few file types are served; everything else is a 404, whatever
``..``, symlink or encoding tricks the path holds.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import cherrypy
from cherrypy.lib import static

from plugin_serialconsole import i18n
from plugin_serialconsole.control import http, wsurl
from plugin_serialconsole.errors import SerialConsoleError

log = logging.getLogger(__name__)

PAGES = {"index.html", "console.html"}
OUR_TREES = {"css", "js", "images", "config"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".xml": "application/xml; charset=utf-8",
}
# Our pages run only our scripts; xterm.js adds <style> elements, hence 'unsafe-inline' for
# styles; the asciinema player runs its terminal as WebAssembly, hence 'wasm-unsafe-eval'
# (WebAssembly only: never JavaScript's eval). Only the console page connects beyond its
# origin: to the console URLs this host hands out (``console_policy``), never to any ws: or
# wss: URL.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src {connect}; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)
# What a UI directory needs for the pages to work: they, xterm.js and its addons.
NEEDED_FILES = (
    "index.html",
    "console.html",
    "node_modules/@xterm/xterm/lib/xterm.js",
    "node_modules/@xterm/addon-fit/lib/addon-fit.js",
    "node_modules/@xterm/addon-unicode11/lib/addon-unicode11.js",
    "node_modules/@xterm/addon-search/lib/addon-search.js",
)


def find_ui_dir(configured: str | None = None) -> Path:
    """``ui_dir`` from the config, else ``<checkout>/ui``, else the installed copy
    (``<sys.prefix>/share/serialconsole/ui``)."""
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[2] / "ui"
    if (checkout / "console.html").is_file():
        return checkout
    return Path(sys.prefix) / "share" / "serialconsole" / "ui"


def ui_problems(directory: Path) -> list[str]:
    """What a UI directory lacks to work (empty when complete)."""
    return [name for name in NEEDED_FILES if not (directory / name).is_file()]


def report_unbuilt(directory: Path) -> None:
    """Say in the log, at start, when the pages cannot work and how to make them work."""
    if missing := ui_problems(directory):
        log.warning(
            "the web UI in %s is not built (missing: %s): the console page cannot work. "
            "Run `make ui` in the plugin's source checkout; a plugin installed from that "
            "checkout finds it through [serialconsole] ui_dir = <checkout>/ui",
            directory,
            ", ".join(missing),
        )


def console_policy(ws_url_prefix: str) -> str:
    """The console page's Content-Security-Policy: it connects to its own origin and to
    the console URLs this host hands out, which all start with ``ws_url_prefix``."""
    return PAGE_POLICY.format(connect=f"'self' {wsurl.connect_source(ws_url_prefix)}")


class UiFiles:
    """Pages, static files and the pages' translations from one UI directory, and what
    the console page may connect to."""

    def __init__(self, directory: Path, ws_url_prefix: Callable[[], str]) -> None:
        self.directory = directory
        self.ws_url_prefix = ws_url_prefix  # for the current request's client

    def languages(self) -> frozenset[str]:
        """Languages the pages are translated to (compiled ``i18n/<lang>.json``)."""
        return frozenset(p.stem for p in (self.directory / "i18n").glob("*.json"))

    def page(self, name: str) -> bytes:
        if name not in PAGES:
            raise _not_found()
        if not (self.directory / name).is_file():
            raise SerialConsoleError(i18n.UI_NOT_BUILT, 503)
        body = self._serve(self.directory / name)
        headers = cherrypy.response.headers
        if name == "console.html":
            headers["Content-Security-Policy"] = console_policy(self.ws_url_prefix())
        else:
            headers["Content-Security-Policy"] = PAGE_POLICY.format(connect="'self'")
        headers["Referrer-Policy"] = "no-referrer"
        return body

    def console_settings(self) -> bytes:
        """What the console page needs from the host before it connects:
        ``{"ws_url_prefix"}``, the start of every console URL this host hands the client
        (a ``#ws=`` link to anything else is refused)."""
        headers = cherrypy.response.headers
        headers["Cache-Control"] = "no-store"
        headers["Vary"] = "Host"
        return http.respond(200, {"ws_url_prefix": self.ws_url_prefix()})

    def file(self, segments: tuple[str, ...]) -> bytes:
        """A static file of ours or of an xterm.js package, given as URL path segments."""
        if not _served_tree(segments) or any(_bad_segment(s) for s in segments):
            raise _not_found()
        return self._serve(self.directory.joinpath(*segments))

    def catalog(self) -> bytes:
        """The pages' strings in the request's language: ``{"lang", "messages"}``."""
        language = http.request_language(self.languages())
        messages: dict[str, str] = {}
        if language != i18n.DEFAULT_LANGUAGE:
            path = self.directory / "i18n" / f"{language}.json"
            try:
                messages = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                log.warning("page catalog %s unusable: %s", path, error)
        headers = cherrypy.response.headers
        headers["Vary"] = "Accept-Language"
        headers["Content-Language"] = language.replace("_", "-")
        headers["Cache-Control"] = "no-cache"
        return http.respond(200, {"lang": language.replace("_", "-"), "messages": messages})

    def _serve(self, path: Path) -> bytes:
        content_type = CONTENT_TYPES.get(path.suffix)
        root = self.directory.resolve()
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise _not_found() from None
        if content_type is None or not resolved.is_relative_to(root) or not resolved.is_file():
            raise _not_found()
        headers = cherrypy.response.headers
        # No fingerprinted names: let browsers keep files but ask (If-Modified-Since) each time.
        headers["Cache-Control"] = "no-cache"
        headers["X-Content-Type-Options"] = "nosniff"
        return static.serve_file(str(resolved), content_type=content_type)


def _served_tree(segments: tuple[str, ...]) -> bool:
    """Our own trees, and only the built files (lib/, css/) of the @xterm packages and the
    asciinema player's bundle."""
    if len(segments) >= 2 and segments[0] in OUR_TREES:
        return True
    if segments[:4] == ("node_modules", "asciinema-player", "dist", "bundle"):
        return len(segments) == 5
    return (
        len(segments) >= 5
        and segments[:2] == ("node_modules", "@xterm")
        and (segments[3] in ("lib", "css"))
    )


def _bad_segment(segment: str) -> bool:
    return (
        not segment
        or segment.startswith(".")
        or any(ch in segment for ch in "\\\0")
        or segment != segment.strip()
    )


def _not_found() -> SerialConsoleError:
    return SerialConsoleError(i18n.RESOURCE_NOT_FOUND, 404, path=cherrypy.request.path_info)
