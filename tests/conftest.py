"""Fixtures every host-running part of the suite shares: WebSocket consoles, and a host
behind a real nginx (contrib/nginx/serialconsole.conf)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket

from tests.integration import nginx as nginx_harness
from tests.integration.helpers import WS_TIMEOUT, Console, Host, idle_between_tests
from tests.integration.nginx import Nginx


@pytest.fixture(scope="session", autouse=True)
def private_state_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What falls back on the default state directory (/var/lib/serialconsole as root:
    capture logs, recording indexes, the audit log) writes in one of this run's own, never
    in the machine's (systemd's $STATE_DIRECTORY comes first)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATE_DIRECTORY", str(tmp_path_factory.mktemp("state-directory")))
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test's report carries the end of the log of each host it used: a host
    deletes its log when it stops, and a failure in CI must say what the host saw."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        hosts = {
            id(v): (n, v) for n, v in getattr(item, "funcargs", {}).items() if isinstance(v, Host)
        }
        for name, host in hosts.values():
            report.sections.append((f"log of host {name!r} (end)", host.log()))


@pytest.fixture
def connect() -> Iterator[Callable[..., Console]]:
    """Open WebSocket consoles (``websocket.create_connection``); all closed at the end."""
    consoles: list[Console] = []

    def open_console(url: str, **options: Any) -> Console:
        console = Console(websocket.create_connection(url, timeout=WS_TIMEOUT, **options))
        consoles.append(console)
        return console

    yield open_console
    for console in consoles:
        console.close()


@pytest.fixture(scope="module")
def proxied_host() -> Iterator[Host]:
    """A host configured for nginx (``websocket_url = wss://{host}/websockify``)."""
    yield from nginx_harness.proxied_host()


@pytest.fixture(scope="module")
def nginx(proxied_host: Host) -> Iterator[Nginx]:
    """nginx in front of ``proxied_host`` on ephemeral loopback ports."""
    yield from nginx_harness.running_proxy(proxied_host)


@pytest.fixture
def nginx_host(proxied_host: Host, nginx: Nginx) -> Iterator[Host]:
    """``proxied_host`` with nginx in front, idle before the test and again after it."""
    yield from idle_between_tests(proxied_host)
