"""When to read a console's output again: at once while it is interactive, in batches once it
streams.

A UART hands libvirt a few bytes at a time (about 25 on average for a TCG guest printing
``seq``): read one by one, each costs a wakeup in every process down to the browser, CPU a
TCG guest then lacks. Interactive output (an echo, a prompt, even typed as fast as a script
can) is read at once; once output streams (a leaky bucket draining STREAM_RATE bytes/s holds
STREAM_BYTES), reads are spaced HOLD apart so each carries more: one frame of a 60 Hz display,
no longer than a browser takes to draw it anyway. Over ``qemu+tls://`` (bench part ``remote``) a
4 ms hold cost the console process, the proxy and the WebSocket client together ~1.3 CPU-s
more per MB of ``seq`` than a direct libvirt client, CPU the TCG guest then lacked; at 16 ms
they cost about what the direct client does.
"""

from __future__ import annotations

STREAM_RATE = 8 * 1024
STREAM_BYTES = 1024
HOLD = 0.016


class OutputPacer:
    """Tracks how fast output came; says how long to wait before the next read."""

    def __init__(self) -> None:
        self._backlog = 0.0
        self._last = float("-inf")

    def _level(self, now: float) -> float:
        return max(0.0, self._backlog - (now - self._last) * STREAM_RATE)

    def hold(self, now: float) -> float:
        """Seconds from ``now`` until the next read."""
        if self._level(now) < STREAM_BYTES:
            return 0.0
        return max(0.0, self._last + HOLD - now)

    def took(self, now: float, size: int) -> None:
        """``size`` bytes were read at ``now``."""
        self._backlog = self._level(now) + size
        self._last = now
