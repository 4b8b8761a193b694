"""Run a few lines of Python in a child whose open-files limit is lowered first."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest


def run_with_open_files(soft: int, hard: int, code: str) -> subprocess.CompletedProcess:
    """``code`` run by a child with RLIMIT_NOFILE (``soft``, ``hard``); skipped where this
    machine's own hard limit is below ``hard`` (a child may lower it, never raise it)."""
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if now != resource.RLIM_INFINITY and now < hard:
        pytest.skip(f"the hard open-files limit here is {now}")

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run(
        [sys.executable, "-c", code], preexec_fn=lower, capture_output=True, text=True, check=True
    )
