"""Log lines on stderr, for the host and the processes it starts.

Under systemd, stderr is a journal stream: journald stamps the time itself and reads a
``<N>`` prefix as the line's priority, so lines there carry no time and a priority
prefix. Anywhere else (a terminal, a log file) they start with the time.
"""

from __future__ import annotations

import logging
import os
import sys

# syslog priorities, as sd-daemon(3) prefixes expect them
PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def on_journal(fd: int = 2) -> bool:
    """True when ``fd`` is the stream systemd connected to the journal ($JOURNAL_STREAM)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        status = os.fstat(fd)
    except OSError:
        return False
    return f"{status.st_dev}:{status.st_ino}" == f"{device}:{inode}"


class JournalFormatter(logging.Formatter):
    """``<priority>name message``: journald adds the time and keeps the priority."""

    def format(self, record: logging.LogRecord) -> str:
        priority = PRIORITIES.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def stderr_handler(tag: str = "%(name)s") -> logging.Handler:
    """A handler writing to stderr, formatted for the journal or with times.

    ``tag`` names the source in each line, e.g. ``console[%(process)d]``.
    """
    handler = logging.StreamHandler(sys.stderr)
    if on_journal():
        handler.setFormatter(JournalFormatter(f"{tag} %(levelname)s %(message)s"))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {tag} %(levelname)s %(message)s"))
    return handler


def configure_stderr(level: int | str, tag: str = "%(name)s") -> None:
    """The root logger at ``level``, writing through ``stderr_handler`` only."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(stderr_handler(tag))
    root.setLevel(level)


def level_name(logger: str) -> str:
    """The effective level of ``logger`` as a name, to hand to a child process."""
    return logging.getLevelName(logging.getLogger(logger).getEffectiveLevel())
