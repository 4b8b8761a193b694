"""The proxy's descriptor budget: how many connections may wait for their handshake and how
many may be served at once, within the open-files limit.

The proxy's loop holds one descriptor per waiting connection and two (the browser's and the
console's socket) per connection served; an ``accept`` that fails for lack of descriptors
could answer nobody, so both counts are fitted to the limit when the loop starts (the host
raises it; see ``host.fdlimit``).
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

MAX_WAITING = 1024
RESERVED_FDS = 32  # stdio, the listener, epoll, the wakeup pipe, the tokens directory, logs
FDS_PER_CONNECTION = 2


def max_waiting() -> int:
    """Waiting connections held at once: half the descriptors this process may open."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, min(MAX_WAITING, soft // 2))


def max_handlers(wanted: int, waiting: int) -> int:
    """Connections served at once: ``wanted``, or fewer when their descriptors, the waiting
    connections' and the loop's own would not fit the open-files limit (an accept that
    fails for lack of descriptors could answer nobody)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    fitting = max(1, (soft - waiting - RESERVED_FDS) // FDS_PER_CONNECTION)
    if fitting < wanted:
        log.warning(
            "max_ws_handlers %s does not fit the open-files limit %s; serving at most %s "
            "WebSocket connections at once (raise LimitNOFILE= or ulimit -n)",
            wanted, soft, fitting,
        )  # fmt: skip
    return min(wanted, fitting)
