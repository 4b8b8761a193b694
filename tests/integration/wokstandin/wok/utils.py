"""Stand-in for ``src/wok/utils.py`` ``get_plugins``/``load_plugin``/``import_class``.

A plugin directory counts when its ``<name>.conf`` has ``[wok] enable``; every section of
that file goes into the plugin's cherrypy config, ``[wok]`` deleted, updated with
``PluginConfig(name)`` and then with the plugin's ``get_custom_conf()`` (``dict.update``:
a path given there replaces Wok's entry for it). The plugin class is
``wok.plugins.<name>.<Name>``, called with Wok's options; an error there is logged and the
plugin left out. The result is mounted at ``/plugins/<name>``.
"""

import configparser
import importlib
import os

import cherrypy
from wok.config import PluginConfig, PluginPaths, get_base_plugin_uri


def import_class(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def load_plugin_conf(name: str):
    conf_file = PluginPaths(name).conf_file
    if not os.path.exists(conf_file):
        return None
    parser = configparser.ConfigParser()  # Wok's SafeConfigParser: interpolation on
    parser.read(conf_file)
    return {section: dict(parser.items(section)) for section in parser.sections()}


def get_enabled_plugins():
    plugins_dir = os.environ["WOKSTANDIN_PLUGINS_DIR"]
    for name in sorted(os.listdir(plugins_dir)):
        if not os.path.isdir(os.path.join(plugins_dir, name)):
            continue
        conf = load_plugin_conf(name)
        if conf and conf.get("wok", {}).get("enable") is not None:
            yield name, conf


def load_plugin(name: str, plugin_config: dict, options) -> None:
    class_path = f"wok.plugins.{name}.{name[0].upper() + name[1:]}"
    del plugin_config["wok"]
    plugin_config.update(PluginConfig(name))
    try:
        app = import_class(class_path)(options)
    except Exception as error:
        cherrypy.log.error(f"Failed to import plugin {class_path}, error: {error}")
        return
    get_custom_conf = getattr(app, "get_custom_conf", None)
    if get_custom_conf is not None:
        plugin_config.update(get_custom_conf())
    cherrypy.tree.mount(app, get_base_plugin_uri(name), plugin_config)
