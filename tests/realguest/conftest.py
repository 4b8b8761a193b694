"""Real-guest fixtures: libvirtd (started here, as root, when none answers), the tiny guest,
``serialconsole-host --uri qemu:///system``. Every guest a fixture starts is destroyed by it,
also when the test fails."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import Host, idle_between_tests, shared_host

from .daemons import URI, Daemons, running_as_root, unreachable
from .guests import SINGLE, TinyGuest, build, destroy_leftovers

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def libvirt_daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemons]:
    """A libvirtd answering at qemu:///system: the running one, or one started here."""
    daemons = Daemons(tmp_path_factory.mktemp("libvirtd"))
    why = unreachable(URI)
    if why is not None:
        if not running_as_root():
            pytest.skip(f"no libvirtd answers at {URI} ({why}) and only root can start one")
        daemons.start()
    try:
        yield daemons
    finally:
        if unreachable(URI) is None and (left := destroy_leftovers(URI)):
            log.warning("destroyed guests left by tests: %s", left)
        daemons.stop()
        shutil.rmtree(daemons.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def guest_dir(libvirt_daemons: Daemons) -> Path:
    """The tiny guest's kernel, initrd and domain XML (built once, then cached)."""
    return build()


def boot(guest_dir: Path, kind: str, label: str, started: list[TinyGuest]) -> TinyGuest:
    guest = TinyGuest(URI, guest_dir / kind, label)
    started.append(guest)
    return guest.boot()


@pytest.fixture(scope="module")
def module_guest(guest_dir: Path) -> Iterator[TinyGuest]:
    """One booted single-serial guest shared by a test module."""
    started: list[TinyGuest] = []
    try:
        yield boot(guest_dir, SINGLE, "module", started)
    finally:
        for guest in started:
            guest.destroy()


@pytest.fixture
def new_guest(guest_dir: Path) -> Iterator[Callable[..., TinyGuest]]:
    """Start guests for one test: ``new_guest(kind, boot=False)`` leaves one paused."""
    started: list[TinyGuest] = []

    def make(kind: str = SINGLE, boot: bool = True, label: str = "test") -> TinyGuest:
        guest = TinyGuest(URI, guest_dir / kind, label)
        started.append(guest)
        return guest.boot() if boot else guest.create(paused=True)

    try:
        yield make
    finally:
        for guest in started:
            guest.destroy()


@pytest.fixture(scope="module")
def module_host(libvirt_daemons: Daemons) -> Iterator[Host]:
    """One ``serialconsole-host --uri qemu:///system`` (+ websockify) per test module."""
    yield from shared_host(source=("--uri", URI))


@pytest.fixture
def host(module_host: Host, connect) -> Iterator[Host]:
    """The module's host, checked idle (no session, socket, token, process) before and after."""
    yield from idle_between_tests(module_host)
