"""Run the Wok stand-in: ``python serve.py [--test] [--port N]``; prints its URL when up.

Mirrors ``src/wok/server.py`` ``Server.__init__``/``start`` where a plugin meets it: the
command-line options go into ``wok.config.config``; the ``nocache`` and ``wokauth`` tools
are defined; cherrypy listens on 127.0.0.1; Wok's root is mounted at ``/`` with sessions
named ``wok``; every enabled plugin is loaded (``wok.utils.load_plugin`` with
``get_plugin_config_options()``: ``cherrypy_port``, ``websockets_port``, ``test``, ...);
then the engine starts and blocks, and SIGTERM makes it exit.

Wok's root (``src/wok/root.py``): ``POST /login`` (JSON ``username``/``password``) and
``POST /logout``; ``/login.html`` renders with every mounted app's ``extends`` scripts
(``Root._get_scripts``), so an app root without ``extends`` makes it fail with 500.
"""

import argparse
import json
import logging
import sys
from types import SimpleNamespace

import cherrypy
from wok import auth
from wok.config import config
from wok.utils import get_enabled_plugins, load_plugin

SESSIONS = {
    "tools.sessions.on": True,
    "tools.sessions.name": "wok",
    "tools.sessions.secure": True,
    "tools.sessions.httponly": True,
    "tools.sessions.locking": "explicit",
    "tools.sessions.storage_type": "ram",
    "tools.trailing_slash.on": False,
}


class WokRoot:
    def __init__(self) -> None:
        self.extends = None
        self.domain = "wok"
        self.messages = {}

    @cherrypy.expose
    def login(self) -> bytes:
        body = json.loads(cherrypy.request.body.read() or b"{}")
        user = auth.login(body.get("username", ""), body.get("password", ""))
        if not user:
            raise cherrypy.HTTPError(401, "WOKAUTH0008E")
        return json.dumps(user).encode()

    @cherrypy.expose
    def logout(self) -> bytes:
        auth.logout()
        return b"{}"

    @cherrypy.expose
    def default(self, page: str) -> bytes:
        if page != "login.html":
            raise cherrypy.HTTPError(404)
        scripts = []
        for app in cherrypy.tree.apps.values():
            if app.root.extends is not None:  # AttributeError: 500, as in Wok
                scripts.extend(app.root.extends.get("/", {}).values())
        return f"<html><body>login {scripts}</body></html>".encode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    config.set("server", "test", str(args.test))
    config.set("server", "cherrypy_port", str(args.port))
    cherrypy.tools.nocache = cherrypy.Tool("on_end_resource", lambda: None)
    cherrypy.tools.wokauth = cherrypy.Tool("before_handler", lambda: None)
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": args.port,
            "engine.autoreload.on": False,
            "log.screen": False,  # stdout carries the URL only
        }
    )
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)  # the plugin's log, too
    cherrypy.log.error_log.addHandler(logging.StreamHandler(sys.stderr))
    cherrypy.tree.mount(WokRoot(), "", {"/": SESSIONS})
    options = SimpleNamespace(
        cherrypy_port=config.getint("server", "cherrypy_port"),
        websockets_port=config.getint("server", "websockets_port"),
        session_timeout=config.getint("server", "session_timeout"),
        test=config.get("server", "test"),
    )
    for name, plugin_config in get_enabled_plugins():
        load_plugin(name, plugin_config, options)
    cherrypy.engine.signal_handler.subscribe()
    cherrypy.engine.start()
    host, port = cherrypy.server.bound_addr[:2]
    print(f"http://{host}:{port}/", flush=True)
    cherrypy.engine.block()
    return 0


if __name__ == "__main__":
    sys.exit(main())
