"""When a console process ends for want of clients or of activity, and with what reason.

The process lives while a client is attached or invited. Once nobody is, it waits out a
deadline (a writer that left is given the grace period to reattach) and then ends, saying
why: the first invitation lapsed (``nobody-came``) or was withdrawn, the writer left with
no grace period (``client-closed``), nobody reattached within it. Without activity (the
writer's input or the guest's output) for the idle timeout the console ends; a capture
instead sends its clients away and reads on. A capture never ends for want of clients.

The server tells this what happens to its clients; this tells the server when to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from plugin_serialconsole.console.spec import ConsoleSettings
from plugin_serialconsole.consoles import Reason


class Lifetime:
    """The end of one console process for want of clients or activity. ``occupied``
    says whether a client is attached or invited (or the console already ends);
    ``finish`` ends the console for a reason, ``send_all_away`` ends a capture's clients."""

    def __init__(
        self,
        settings: ConsoleSettings,
        capture: bool,
        occupied: Callable[[], bool],
        finish: Callable[..., None],
        send_all_away: Callable[..., None],
    ) -> None:
        self.settings = settings
        self.capture = capture
        self._occupied = occupied
        self._finish = finish
        self._send_all_away = send_all_away
        self._someone_came = False
        self._withdrawn: Reason | None = None  # why the last invitation to go was withdrawn
        self._first_ttl = 0.0
        self._deadline = 0.0
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._last_activity = asyncio.get_running_loop().time()

    def first_invited(self, ttl: float) -> None:
        """The process starts with an invitation that waits ``ttl`` seconds."""
        self._first_ttl = ttl

    def came(self) -> None:
        """A client attached."""
        self._someone_came = True

    def invitation_gone(self, withdrawn: Reason | None) -> None:
        """An invitation went unused: withdrawn for ``withdrawn``, or lapsed (None)."""
        self._withdrawn = withdrawn

    def client_left(self, writer: bool) -> None:
        """A client left; with no grace period the writer leaving ends the console."""
        if writer and self.settings.grace == 0 and not self.capture:
            self._finish(Reason.CLIENT_CLOSED)
            return
        self._keep_for(self.settings.grace)

    def _keep_for(self, seconds: float) -> None:
        """Do not end for lack of clients within the next ``seconds``."""
        self._deadline = max(self._deadline, asyncio.get_running_loop().time() + seconds)
        self.reconsider()

    def reconsider(self) -> None:
        """End once nobody is attached or invited and the deadline has passed."""
        self.stop()
        if self._occupied() or self.capture:
            return
        loop = asyncio.get_running_loop()
        if (delay := self._deadline - loop.time()) > 0:
            self._deadline_timer = loop.call_later(delay, self.reconsider)
            return
        if not self._someone_came and self._withdrawn is not None:
            self._finish(self._withdrawn)
        elif not self._someone_came:
            self._finish(Reason.NOBODY_CAME, seconds=f"{self._first_ttl:g}")
        elif self.settings.grace == 0:
            self._finish(Reason.CLIENT_CLOSED)
        else:
            self._finish(Reason.NOBODY_REATTACHED, seconds=f"{self.settings.grace:g}")

    def stop(self) -> None:
        """Forget the deadline's timer (the console ends, or it is set anew)."""
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None

    def touch(self) -> None:
        """Something happened on the console: the idle timeout starts again."""
        self._last_activity = asyncio.get_running_loop().time()

    async def watch_idle(self) -> None:
        """End the console (a capture: its clients) once idle for the idle timeout."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = self._last_activity + self.settings.idle_timeout - loop.time()
            if remaining <= 0 and self.capture:
                self._send_all_away(Reason.IDLE, seconds=f"{self.settings.idle_timeout:g}")
                self.touch()
                continue
            if remaining <= 0:
                self._finish(Reason.IDLE, seconds=f"{self.settings.idle_timeout:g}")
                return
            await asyncio.sleep(remaining)
