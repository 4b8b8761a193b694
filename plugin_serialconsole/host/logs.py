"""The host's logging, from the ``[logging]`` section.

By default everything goes to stderr (the journal under systemd). With ``file`` set, the
host points its stderr at that file (appending), so the processes it starts -- the
WebSocket proxy and the console processes, which log on the stderr they inherit -- write
there too, and so does anything a crash prints.
"""

from __future__ import annotations

import configparser
import logging
import os
from pathlib import Path

from plugin_serialconsole.host.config import ConfigError, logger_levels
from plugin_serialconsole.logfmt import configure_stderr

LOG_FILE_MODE = 0o640


def configure(logs: configparser.SectionProxy) -> None:
    """Root level, per-logger levels, and stderr (or the log file) as the destination."""
    if logs.get("file"):
        redirect_stderr(Path(logs["file"]))
    configure_stderr(logs["level"])
    for name, level in logger_levels(logs).items():
        logging.getLogger(name).setLevel(level)


def redirect_stderr(path: Path) -> None:
    """Make file descriptor 2 the log file, opened for appending (created 0640)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_FILE_MODE)
    except OSError as error:
        raise ConfigError(f"[logging] file: cannot open {path}: {error.strerror}") from None
    os.dup2(fd, 2)  # the duplicate is inheritable, so child processes get the file
    os.close(fd)
