"""The host's open-files limit, raised at start to what many consoles need.

Each open console costs the host a few descriptors (the console process's pipes) and the
WebSocket proxy two per connection, plus the connections waiting for a handshake; 1000
consoles need a few thousand, past the usual soft limit of 1024. Nothing in the host or
the plugin uses ``select()``, so descriptors past 1023 are safe; raising the soft limit
up to the hard one is what a process may always do (under systemd, ``LimitNOFILE=`` in
the unit sets both, and the unit's system-call filter refuses ``setrlimit``).
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

# Enough for ~10 000 consoles; a larger table only costs memory and time to close it.
WANTED_OPEN_FILES = 65536


def raise_open_files_limit(wanted: int = WANTED_OPEN_FILES) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (never above the hard limit, never
    lowering it); the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as error:
            log.warning(
                "could not raise the open-files limit from %s to %s: %s", soft, target, error
            )
            return soft
        log.debug("open-files limit raised from %s to %s", soft, target)
        return target
    if soft < wanted:
        log.info(
            "open-files limit %s (hard limit %s): about %s consoles at once at most; "
            "raise it with LimitNOFILE= or ulimit -n", soft, hard, soft // 8,
        )  # fmt: skip
    return soft
