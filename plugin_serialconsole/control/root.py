"""The plugin's cherrypy root: the browser UI beside the REST API.

    GET /                 the guest list page for browsers (Accept prefers HTML), else the
                          REST API's JSON plugin info
    GET /console.html     the console page
    GET /i18n.json        the pages' strings in the request's language
    GET /console.json     what the console page may connect to (the host's console URLs)
    GET /ui/<path>        the pages' scripts, styles and xterm.js

Everything else goes to the REST API untouched. The pages and their files are public (they
hold no data; a login form is part of them): what they show comes from the REST API, which
checks the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cherrypy

from plugin_serialconsole import i18n
from plugin_serialconsole.control import http
from plugin_serialconsole.control.rest import RestApi
from plugin_serialconsole.control.ui import UiFiles
from plugin_serialconsole.errors import SerialConsoleError

log = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD")


class PluginRoot:
    def __init__(self, api: RestApi, ui: UiFiles) -> None:
        self.api = api
        self.ui = ui

    @cherrypy.expose
    def default(self, *segments: str, **params: str) -> bytes:
        request = cherrypy.request
        if not segments:
            cherrypy.response.headers["Vary"] = "Accept"
            if request.method in READ_METHODS and http.prefers_html(request.headers.get("Accept")):
                return self._ui(self._index)
        elif segments == ("console.html",) or segments == ("index.html",):
            return self._ui(lambda: self.ui.page(segments[0]))
        elif segments == ("i18n.json",):
            return self._ui(self.ui.catalog)
        elif segments == ("console.json",):
            return self._ui(self.ui.console_settings)
        elif segments[0] == "ui":
            return self._ui(lambda: self.ui.file(segments[1:]))
        return self.api.default(*segments, **params)

    def _index(self) -> bytes:
        if not cherrypy.request.path_info.endswith("/"):
            # The page's relative links need the trailing slash.
            raise cherrypy.HTTPRedirect(cherrypy.url("/", relative=False), 301)
        return self.ui.page("index.html")

    def _ui(self, serve: Callable[[], bytes]) -> bytes:
        request = cherrypy.request
        try:
            if request.method not in READ_METHODS:
                cherrypy.response.headers["Allow"] = ", ".join(READ_METHODS)
                raise SerialConsoleError(i18n.METHOD_NOT_ALLOWED, 405, method=request.method)
            return serve()
        except SerialConsoleError as error:
            return http.respond_error(error)
        except cherrypy.HTTPRedirect:  # 304 Not Modified and the trailing-slash redirect
            raise
        except Exception:
            log.exception("%s %s failed", request.method, request.path_info)
            return http.respond_error(SerialConsoleError(i18n.INTERNAL_ERROR, 500))
