"""A forked console process's command line, as ``ps`` and ``/proc/PID/cmdline`` show it.

A process forked from the zygote would show the zygote's command line; operators (and the
tests) find a console process by its own — guest, device, socket — as when it was spawned.
Linux reads the command line from the memory that held ``argv`` and, when the byte ending
that area is not NUL (the setproctitle convention), on into the environment strings after
it. So the C environment is copied to the heap first, then both areas are overwritten.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from pathlib import Path

# /proc/PID/stat fields arg_start, arg_end, env_end (48, 49, 51), counted after the state (3)
_ARG_START, _ARG_END, _ENV_END = 45, 46, 48


def _areas() -> tuple[int, int, int]:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[_ARG_START]), int(fields[_ARG_END]), int(fields[_ENV_END])


def _move_environment(libc: ctypes.CDLL) -> None:
    """The C environment's strings onto the heap, so their old place may be reused."""
    libc.clearenv()
    for key, value in os.environb.items():
        libc.setenv(ctypes.c_char_p(key), ctypes.c_char_p(value), 1)


def set_command_line(argv: list[str]) -> None:
    """Show ``argv`` as this process's command line (cut to the room there is); best effort."""
    with contextlib.suppress(OSError, ValueError, IndexError, AttributeError):
        arg_start, arg_end, env_end = _areas()
        room = env_end - arg_start - 1
        if room <= 0 or arg_end <= arg_start:
            return
        encoded = [os.fsencode(arg) for arg in argv]
        title = b"\0".join(encoded)
        if len(title) >= arg_end - arg_start:
            # Past the argv area only the first NUL-terminated string is shown.
            title = b" ".join(encoded)[:room]
        libc = ctypes.CDLL(None)
        _move_environment(libc)
        ctypes.memset(arg_start, 0, env_end - arg_start)
        ctypes.memmove(arg_start, title, len(title))
