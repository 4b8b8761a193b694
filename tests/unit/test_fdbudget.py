"""The proxy fits its handler cap to the open-files limit instead of failing an accept it
could not answer (issue 20)."""

from __future__ import annotations

import resource

from .rlimits import run_with_open_files

CHILD = """
from plugin_serialconsole.bridge.fdbudget import max_handlers, max_waiting
waiting = max_waiting()
print(waiting, max_handlers({wanted}, waiting))
"""


def budget(soft: int, wanted: int) -> tuple[list[int], str]:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    done = run_with_open_files(soft, max(soft, hard), CHILD.format(wanted=wanted))
    return [int(word) for word in done.stdout.split()], done.stderr


def test_a_cap_past_the_limit_is_lowered_and_said() -> None:
    (waiting, handlers), log = budget(1024, 1000)
    assert waiting + 2 * handlers < 1024  # a browser's and a console's socket each
    assert handlers == (1024 - waiting - 32) // 2
    assert "max_ws_handlers 1000 does not fit the open-files limit 1024" in log


def test_a_cap_that_fits_is_kept() -> None:
    assert budget(4096, 1000)[0] == [1024, 1000]
