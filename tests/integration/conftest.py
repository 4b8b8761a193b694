"""Integration fixtures: real ``serialconsole-host --mock`` subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import Host, idle_between_tests, shared_host


@pytest.fixture
def start_host() -> Iterator[Callable[..., Host]]:
    """Factory of function-scoped hosts; each is SIGTERMed and checked clean at the end."""
    hosts: list[Host] = []

    def start(*options: str, run_dir: Path | None = None, **kwargs: Any) -> Host:
        host = Host(*options, run_dir=run_dir, **kwargs)
        hosts.append(host)
        return host.start()

    yield start
    errors = []
    for host in reversed(hosts):  # the last started first: hosts may share a run dir
        try:
            host.finish()
        except AssertionError as error:
            errors.append(str(error))
    assert not errors, "\n\n".join(errors)


@pytest.fixture(scope="module")
def module_host() -> Iterator[Host]:
    """One host shared by a test module (tests there must not power guests off)."""
    yield from shared_host()


@pytest.fixture
def host(module_host: Host, connect) -> Iterator[Host]:
    """The module's shared host, checked idle before and after the test."""
    yield from idle_between_tests(module_host)
