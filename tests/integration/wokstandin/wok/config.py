"""Stand-in for ``src/wok/config.py.in``.

- ``config``: ``_get_config()``: section ``server`` with ``test``, ``cherrypy_port``,
  ``websockets_port`` (64667), ``session_timeout`` (minutes).
- ``PluginPaths``: an uninstalled Wok's layout, the plugin's conf file
  ``<plugins_dir>/<name>/<name>.conf`` and its ``ui_dir`` beside it.
- ``PluginConfig``: the cherrypy config Wok mounts every plugin with: ``'/'`` turns on
  cherrypy sessions named ``wok`` (explicit locking, RAM storage), ``tools.proxy`` and
  Wok's ``nocache`` tool; ``/ui/config/tab-ext.xml`` is a static file in the plugin's
  ``ui_dir`` (``UIConfig`` adds css/js/images static dirs there too).
"""

import configparser
import os

config = configparser.ConfigParser()
config.read_dict(
    {
        "server": {
            "test": "",
            "cherrypy_port": "8010",
            "websockets_port": "64667",
            "session_timeout": "10",
        }
    }
)


class PluginPaths:
    def __init__(self, name: str) -> None:
        self.plugin_dir = os.path.join(os.environ["WOKSTANDIN_PLUGINS_DIR"], name)
        self.ui_dir = os.path.join(self.plugin_dir, "ui")
        self.mo_dir = os.path.join(self.plugin_dir, "mo")
        self.conf_file = os.path.join(self.plugin_dir, f"{name}.conf")


class PluginConfig(dict):
    def __init__(self, name: str) -> None:
        super().__init__()
        paths = PluginPaths(name)
        self["/"] = {
            "tools.trailing_slash.on": False,
            "request.methods_with_bodies": ("POST", "PUT"),
            "tools.nocache.on": True,
            "tools.proxy.on": True,
            "tools.sessions.on": True,
            "tools.sessions.name": "wok",
            "tools.sessions.secure": True,
            "tools.sessions.httponly": True,
            "tools.sessions.locking": "explicit",
            "tools.sessions.storage_type": "ram",
        }
        self["/ui/config/tab-ext.xml"] = {
            "tools.staticfile.on": True,
            "tools.staticfile.filename": os.path.join(paths.ui_dir, "config/tab-ext.xml"),
            "tools.nocache.on": True,
        }
        for sub_dir in ("css", "js", "images"):
            self["/" + sub_dir] = {
                "tools.staticdir.on": True,
                "tools.staticdir.dir": os.path.join(paths.ui_dir, sub_dir),
                "tools.wokauth.on": False,
                "tools.nocache.on": False,
            }


def get_base_plugin_uri(name: str) -> str:
    return os.path.join("/", config.get("server", "server_root", fallback=""), "plugins", name)
