"""Output pacing of a libvirt console: interactive output at once, streamed output in batches."""

from __future__ import annotations

import pytest

from plugin_serialconsole.console.pacing import HOLD, STREAM_BYTES, STREAM_RATE, OutputPacer


def streaming_pacer(now: float) -> OutputPacer:
    """A pacer that has just passed 2 * STREAM_BYTES on in small reads, 8 times STREAM_RATE."""
    pacer = OutputPacer()
    reads = 2 * STREAM_BYTES // 16
    for step in range(reads, -1, -1):
        pacer.took(now - step * 16 / (8 * STREAM_RATE), 16)
    return pacer


def test_first_output_is_never_held():
    assert OutputPacer().hold(100.0) == 0.0


def test_interactive_output_is_not_held():
    pacer = OutputPacer()
    now = 100.0
    for _ in range(100):  # a script's echo every 30 ms: 30 bytes, then a pause
        assert pacer.hold(now) == 0.0
        pacer.took(now, 30)
        now += 0.030


def test_streamed_output_is_read_at_most_every_hold():
    pacer = streaming_pacer(100.0)
    assert pacer.hold(100.0) == pytest.approx(HOLD)
    assert pacer.hold(100.0 + HOLD / 4) == pytest.approx(HOLD * 3 / 4)
    assert pacer.hold(100.0 + HOLD) == 0.0


def test_a_pause_ends_the_stream():
    assert streaming_pacer(100.0).hold(100.0 + 2 * STREAM_BYTES / STREAM_RATE) == 0.0
