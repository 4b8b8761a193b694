"""Web serial console for libvirt guests, as a Wok-style plugin.

Exports the ``hookimpl`` marker. It is loaded on first use so that console processes,
which import this package too, don't pay for importing pluggy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        from plugin_serialconsole.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
