"""Wok loads its plugins as ``wok.plugins.<name>.<Name>`` from its plugins directory.

This shim is installed there as ``wok/plugins/serialconsole/`` (with serialconsole.conf
in /etc/wok/plugins.d/); the adapter itself is part of the installed plugin_serialconsole.
"""

from plugin_serialconsole.wok.root import Serialconsole

__all__ = ["Serialconsole"]
