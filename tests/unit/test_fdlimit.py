"""The host raises its open-files limit at start: 1000 consoles need more than 1024."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

CHILD = """
import resource
from plugin_serialconsole.host.fdlimit import raise_open_files_limit
print(raise_open_files_limit({wanted}), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def run_with_limits(soft: int, hard: int, wanted: int) -> list[int]:
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if now != resource.RLIM_INFINITY and now < hard:
        pytest.skip(f"the hard open-files limit here is {now}")

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(wanted=wanted)],
        preexec_fn=lower,
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(word) for word in done.stdout.split()]


def test_soft_limit_is_raised_to_what_many_consoles_need() -> None:
    assert run_with_limits(256, 8192, 4096) == [4096, 4096]


def test_never_above_the_hard_limit() -> None:
    assert run_with_limits(256, 2048, 4096) == [2048, 2048]


def test_never_lowered() -> None:
    assert run_with_limits(8000, 8192, 4096) == [8000, 8000]
