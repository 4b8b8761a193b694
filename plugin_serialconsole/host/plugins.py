"""Plugin discovery: a pluggy manager fed from the ``wok.plugins`` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import pluggy

from plugin_serialconsole import hookspecs

log = logging.getLogger(__name__)


def get_plugin_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    """A new manager with the host contract's specs and every installed plugin."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if load_entry_points:
        for entry_point in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if manager.has_plugin(entry_point.name):
                continue
            loaded = entry_point.load()
            plugin = loaded() if isinstance(loaded, type) else loaded
            manager.register(plugin, name=entry_point.name)
            log.info("loaded plugin %s from %s", entry_point.name, entry_point.value)
    return manager
