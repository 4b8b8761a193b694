"""The plugin's activity (console sessions opened and ended) in Wok's user activity log.

Wok records what operators do with ``wok.reqlogger.log_request`` (one JSON line per entry:
message code and parameters, which Wok translates when it shows the log with the mounted
app's ``messages`` and gettext ``domain``), as Kimchi did for its console (``KCHVM0013L``).
The plugin reports activity as log records carrying an ``Activity``; this handler passes
them on while it is installed, between the engine's start and stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from plugin_serialconsole import i18n
from plugin_serialconsole.activity import Activity

log = logging.getLogger(__name__)

PLUGIN_LOGGER = "plugin_serialconsole"
NO_ADDRESS = "N/A"  # what Wok writes when a request has none
# Wok's request log has a method per entry; the console's two events read as these.
METHODS = {i18n.SESSION_OPENED: "POST", i18n.SESSION_ENDED: "DELETE"}

RequestLog = Callable[..., object]  # wok.reqlogger.log_request's signature


class ActivityLog(logging.Handler):
    """Sends each ``Activity`` logged under the plugin's logger to Wok's request log."""

    def __init__(self, app_uri: str, log_request: RequestLog) -> None:
        super().__init__(logging.INFO)
        self.app_uri = app_uri
        self.log_request = log_request

    def emit(self, record: logging.LogRecord) -> None:
        activity = Activity.of_record(record)
        if activity is None:
            return
        try:
            self.log_request(
                activity.code,
                {key: str(value) for key, value in activity.params.items()},
                None,
                METHODS.get(activity.code, "POST"),
                200,
                app=self.app_uri,
                user=activity.user or NO_ADDRESS,
                ip=_client_address(),
            )
        except Exception:  # the activity log must not break a console
            self.handleError(record)

    def install(self) -> None:
        """Activity is logged at INFO: the plugin's logger lets it through even where
        nothing set a level (Wok leaves the root logger at WARNING)."""
        logger = logging.getLogger(PLUGIN_LOGGER)
        self._level_was = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(self)

    def remove(self) -> None:
        logger = logging.getLogger(PLUGIN_LOGGER)
        logger.removeHandler(self)
        logger.setLevel(getattr(self, "_level_was", logger.level))


def _client_address() -> str:
    """The address of the request being served on this thread, if any (a session ends on
    a watcher thread, outside any request)."""
    import cherrypy

    # cherrypy loads a thread's request into ``serving``'s own attributes and clears them
    # after; a thread serving none sees a stand-in shared by every thread.
    if "request" not in vars(cherrypy.serving):
        return NO_ADDRESS
    return cherrypy.serving.request.remote.ip or NO_ADDRESS
