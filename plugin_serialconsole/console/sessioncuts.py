"""When the capture log is cut for a console session, and the times of what follows a cut.

A console session's recording is found in the log by time (``capturelog``'s index is to
the millisecond): a cut at a session's open or end must fall between the stretches of
output before and after it, and the input typed in a session after its open. So a cut
is at a later millisecond than every stretch or input before it, the stretch of output
that follows it starts a millisecond after it, and input is timed after the last cut;
within one millisecond these move a little ahead of the clock. Not locked: its owner's
lock (``LogWriter``) is held around every call.
"""

from __future__ import annotations

STEP = 0.001  # the index's resolution


def _ms(moment: float) -> float:
    return round(moment, 3)


class SessionCuts:
    def __init__(self) -> None:
        self._pending: float | None = None  # a cut that no output has followed yet
        self._latest = 0.0  # the latest cut, stretch or input, to the millisecond
        self._last_cut = 0.0

    def cut(self, now: float) -> float:
        """A session opens or ends ``now``: when the cut is (unix time, to the ms)."""
        self._pending = self._latest = self._last_cut = max(_ms(now), self._latest + STEP)
        return self._pending

    def stretch(self, now: float, due: bool) -> tuple[float | None, bool]:
        """Output comes ``now``: (when the stretch it starts started, or None when it
        starts none; whether that stretch follows a cut). ``due``: a stretch would start
        anyway (the last one started long enough ago)."""
        if self._pending is not None:
            start, self._pending = max(_ms(now), self._pending + STEP), None
            self._latest = max(self._latest, start)
            return start, True
        if due:  # never before a cut or input already stamped a moment ahead of the clock
            self._latest = max(self._latest, _ms(now))
            return self._latest, False
        return None, False

    def ended(self, now: float) -> float:
        """The capture ends ``now``: when, after every cut (so it ends the sessions)."""
        self._latest = max(_ms(now), self._latest + STEP)
        return self._latest

    def typed(self, now: float) -> float:
        """Input comes ``now``: its time, after the last cut (its session's open)."""
        moment = max(_ms(now), self._last_cut + STEP)
        self._latest = max(self._latest, moment)
        return moment
