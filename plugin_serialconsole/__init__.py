"""Web serial console for libvirt guests, as a Wok-style plugin."""

from plugin_serialconsole.hookspecs import hookimpl

__all__ = ["hookimpl"]
