"""The times a capture log's cuts, stretches and input get (``console.sessioncuts``)."""

from __future__ import annotations

from plugin_serialconsole.console.sessioncuts import SessionCuts


def test_a_stretch_due_by_the_clock_never_starts_before_a_cut_stamped_ahead_of_it():
    """Within one millisecond a cut and its first stretch move ahead of the clock; a stretch
    started by the clock right after went back before them, so a session's stretch of the
    log could hold output that came after it, or miss its own."""
    cuts = SessionCuts()
    now = 1000.0
    cut = cuts.cut(now)
    first, after_cut = cuts.stretch(now, due=False)
    assert after_cut and first > cut
    later, _ = cuts.stretch(now + 0.0002, due=True)  # still before the first stretch's ms
    assert later >= first


def test_times_never_go_back_whatever_the_order_of_cuts_input_and_output():
    cuts = SessionCuts()
    now, seen = 2000.0, []
    for step in range(30):
        now += 0.0003
        if step % 5 == 0:
            seen.append(cuts.cut(now))
        elif step % 5 == 1:
            seen.append(cuts.typed(now))
        else:
            start, _ = cuts.stretch(now, due=True)
            seen.append(start)
    assert seen == sorted(seen)
