"""Log lines on stderr, for the host and the processes it starts.

Under systemd, stderr is a journal stream: journald stamps the time itself and reads a
``<N>`` prefix as the line's priority, so lines there carry no time and a priority
prefix. Anywhere else (a terminal, a log file) they start with the time.

Log messages carry text from outside: guest names, request paths, Origin headers. So
every message is escaped here, whoever logged it (websockify and cherrypy too): control
characters and line separators become ``\n``, ``\x1b``, ``\u2028``..., and the lines
a traceback adds are indented, so no text can start a line that looks like a record of
its own, or send escape sequences to the terminal that shows the log.
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


# What a log reader may take for a line break, or a terminal for a command: C0 and C1
# controls, DEL, and Unicode's line and paragraph separators.
_ESCAPES = {
    code: repr(chr(code))[1:-1] for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}
CONTINUATION = "  "


def escape_controls(text: str) -> str:
    """``text`` on one line, its control characters written as Python escapes."""
    return text.translate(_ESCAPES)


class OneLineFormatter(logging.Formatter):
    """A record's message on one line, escaped; traceback lines indented and escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (the base's name)
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        first, *more = super().format(record).split("\n")
        return "\n".join([first, *(CONTINUATION + escape_controls(line) for line in more)])


def on_journal(fd: int = 2) -> bool:
    """True when ``fd`` is the stream systemd connected to the journal ($JOURNAL_STREAM)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        status = os.fstat(fd)
    except OSError:
        return False
    return f"{status.st_dev}:{status.st_ino}" == f"{device}:{inode}"


class JournalFormatter(OneLineFormatter):
    """``<priority>name message``: journald adds the time and keeps the priority."""

    def format(self, record: logging.LogRecord) -> str:
        priority = PRIORITIES.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.split("\n"))


def stderr_handler(tag: str = "%(name)s") -> logging.Handler:
    """A handler writing to stderr, formatted for the journal or with times.

    ``tag`` names the source in each line, e.g. ``console[%(process)d]``.
    """
    handler = logging.StreamHandler(sys.stderr)
    if on_journal():
        handler.setFormatter(JournalFormatter(f"{tag} %(levelname)s %(message)s"))
    else:
        handler.setFormatter(OneLineFormatter(f"%(asctime)s {tag} %(levelname)s %(message)s"))
    return handler


def configure_stderr(level: int | str, tag: str = "%(name)s") -> None:
    """The root logger at ``level``, writing through ``stderr_handler`` only."""
    log_through(stderr_handler(tag), level)


def log_through(handler: logging.Handler, level: int | str) -> None:
    """The root logger at ``level``, writing through ``handler`` only. The level is set
    only if it changes: setting it clears every logger's cache, which in a forked
    console process copies the page of each logger."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level != (level if isinstance(level, int) else logging.getLevelName(level)):
        root.setLevel(level)


def level_name(logger: str) -> str:
    """The effective level of ``logger`` as a name, to hand to a child process."""
    return logging.getLevelName(logging.getLogger(logger).getEffectiveLevel())
