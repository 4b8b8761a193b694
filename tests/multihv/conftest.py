"""Two test hypervisors for the many-hypervisors tests: libvirtd each in network and mount
namespaces of its own, one reached over ``qemu+tls://``, one over ``qemu+tcp://``, each
running a tiny guest of the same name and UUID. What a fixture starts it stops, and after
this package's last test it checks nothing is left (namespaces, veths, daemons, QEMU, work
dirs): the rest of the suite runs without them."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import libvirt
import pytest

from tests.integration.helpers import Host
from tests.realguest.daemons import running_as_root
from tests.realguest.guests import NAME_PREFIX, SINGLE, TinyGuest, build

from .remote_daemons import TCP, TLS, RemoteDaemon, missing_tools

log = logging.getLogger(__name__)


@pytest.fixture(scope="package")
def hypervisors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RemoteDaemon]]:
    """``{"tls": daemon, "tcp": daemon}``, both answering from their namespaces."""
    if not running_as_root():
        pytest.skip("only root can make network namespaces and start libvirtd")
    if missing := missing_tools():
        pytest.skip(f"not installed: {', '.join(missing)}")
    started: list[RemoteDaemon] = []
    try:
        for transport in (TLS, TCP):
            label = f"hv{transport}"
            started.append(RemoteDaemon(tmp_path_factory.mktemp(label), label, transport))
            started[-1].start()
        yield {daemon.transport: daemon for daemon in started}
    finally:
        _stop_all(started)


def _stop_all(daemons: list[RemoteDaemon]) -> None:
    errors = []
    for daemon in daemons:
        try:
            if left := daemon.destroy_guests():
                log.warning("destroyed guests left by tests on %s: %s", daemon.label, left)
            daemon.stop()
        except Exception as error:  # noqa: BLE001 (every daemon is stopped, then it fails)
            errors.append(f"{daemon.label}: {error}")
        shutil.rmtree(daemon.workdir, ignore_errors=True)
        if daemon.namespace.exists() or daemon.workdir.exists():
            errors.append(f"{daemon.label}: namespace, veth or work dir left")
    assert not errors, errors


@pytest.fixture(autouse=True)
def links_up_after_each_test(hypervisors: dict[str, RemoteDaemon]) -> Iterator[None]:
    """Every hypervisor's link up again after a test, also one that failed with it down:
    the next test, and the guests' teardown over the remote URI, need it."""
    yield
    for daemon in hypervisors.values():
        daemon.set_link(up=True)


def booted(guest: TinyGuest, daemon: RemoteDaemon) -> TinyGuest:
    """``guest.boot()``; when it fails, the error carries the daemon's and QEMU's logs."""
    try:
        return guest.boot()
    except (AssertionError, libvirt.libvirtError) as error:
        raise AssertionError(
            f"{guest.name} did not boot on {daemon.label}: {error}\n"
            f"libvirtd log:\n{daemon.log()}\nQEMU log:\n{daemon.qemu_log(guest.name)}"
        ) from error


@pytest.fixture(scope="package")
def tinyguest_dir(hypervisors: dict[str, RemoteDaemon]) -> Path:
    """The tiny guest's kernel, initrd and domain XML (built once, then cached)."""
    return build()


@pytest.fixture(scope="package")
def twin_guests(
    hypervisors: dict[str, RemoteDaemon], tinyguest_dir: Path
) -> Iterator[dict[str, TinyGuest]]:
    """One booted guest per hypervisor, the same name and UUID on both (a copied definition)."""
    name, same_uuid = f"{NAME_PREFIX}twin-{uuid4().hex[:8]}", str(uuid4())
    started: list[TinyGuest] = []
    try:
        for daemon in hypervisors.values():
            started.append(TinyGuest(daemon.uri, tinyguest_dir / SINGLE, name=name, uuid=same_uuid))
            booted(started[-1], daemon)
        yield dict(zip(hypervisors, started, strict=True))
    finally:
        for guest in started:
            guest.destroy()


@pytest.fixture
def remote_guest(tinyguest_dir: Path) -> Iterator[Callable[..., TinyGuest]]:
    """``remote_guest(daemon, name=None, uuid=None, boot=True)``: more guests for one test."""
    started: list[TinyGuest] = []

    def make(daemon: RemoteDaemon, name: str | None = None, uuid: str | None = None,
             boot: bool = True) -> TinyGuest:  # fmt: skip
        guest = TinyGuest(daemon.uri, tinyguest_dir / SINGLE, daemon.label, name, uuid)
        started.append(guest)
        return booted(guest, daemon) if boot else guest.create(paused=True)

    try:
        yield make
    finally:
        for guest in started:
            guest.destroy()


@pytest.fixture
def fleet_host(hypervisors: dict[str, RemoteDaemon]) -> Iterator[Host]:
    """One serialconsole-host serving both test hypervisors, named ``tls`` and ``tcp``."""
    host = Host(
        source=("--hypervisor", f"tls={hypervisors[TLS].uri}",
                "--hypervisor", f"tcp={hypervisors[TCP].uri}"),
    )  # fmt: skip
    host.start()
    try:
        host.settled_hypervisors()  # the first connects may outlast the host's start
        yield host
    finally:
        host.finish()
