"""The host raises its open-files limit at start: 1000 consoles need more than 1024."""

from __future__ import annotations

from .rlimits import run_with_open_files

CHILD = """
import resource
from plugin_serialconsole.host.fdlimit import raise_open_files_limit
print(raise_open_files_limit({wanted}), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def run_with_limits(soft: int, hard: int, wanted: int) -> list[int]:
    done = run_with_open_files(soft, hard, CHILD.format(wanted=wanted))
    return [int(word) for word in done.stdout.split()]


def test_soft_limit_is_raised_to_what_many_consoles_need() -> None:
    assert run_with_limits(256, 8192, 4096) == [4096, 4096]


def test_never_above_the_hard_limit() -> None:
    assert run_with_limits(256, 2048, 4096) == [2048, 2048]


def test_never_lowered() -> None:
    assert run_with_limits(8000, 8192, 4096) == [8000, 8000]
