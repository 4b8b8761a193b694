"""Many consoles on one front: more sessions at once than a proxy built on select(), whose
handlers inherit a descriptor per earlier handler, could serve (it failed past ~507), all
served by the one proxy process.

Loopback only, bounded: every wait below has its own timeout, and the host stops at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.helpers import (
    PROMPT,
    Console,
    Host,
    config_file,
    connect,
    connection_handlers,
    console_processes,
    open_fds,
    proxy_process,
    wait_for,
    write_test_guests,
)

SESSIONS = 600
OPENERS = 16  # REST clients opening consoles at once, as the bench does
SETTLE_TIMEOUT = 60.0  # for 600 consoles to end once their clients are gone


@pytest.fixture
def crowded_host(tmp_path: Path) -> Iterator[tuple[Host, list[str]]]:
    xml, names = write_test_guests(tmp_path, SESSIONS)
    # 16 clients, each connection counted until the server has seen it close
    config = config_file(tmp_path, "server", connections_per_address=str(4 * OPENERS))
    limit = str(SESSIONS + 10)
    host = Host(
        "--config", str(config), "--max-sessions", limit, "--max-ws-handlers", limit,
        "--idle-timeout", "0", "--reattach-grace", "0", source=("--uri", f"test://{xml}"),
    )  # fmt: skip
    host.start()
    try:
        yield host, names
    finally:
        host.finish()


def open_and_echo(host: Host, name: str) -> tuple[Console | None, str]:
    """Open ``name``'s console, see its prompt and an echo of a line only it is sent;
    the console (None if it failed) and what happened."""
    console = None
    try:
        response = host.post(f"vms/{quote(name)}/serial")
        if response.status_code != 201:
            return None, f"POST {response.status_code} {response.text}"
        console = connect(response.json()["ws_url"])
        console.read_until(PROMPT)
        line = f"only-{name}".encode()
        console.send(b"echo " + line + b"\r")
        console.read_until(b"\r\n" + line + b"\r\n" + PROMPT)
    except (AssertionError, OSError, Exception) as error:  # noqa: BLE001 (counted, reported)
        if console is not None:
            console.close()
        return None, f"{type(error).__name__}: {error}"
    return console, "echoed"


def test_600_sessions_all_echo_and_leave_nothing(crowded_host) -> None:
    host, names = crowded_host
    proxy = proxy_process(host)
    warm_up, what = open_and_echo(host, names[0])  # the proxy opens what it keeps on first use
    assert warm_up is not None, what
    warm_up.close()
    host.assert_idle()
    fds_before = {"host": open_fds(host.proc.pid), "proxy": open_fds(proxy)}

    with ThreadPoolExecutor(OPENERS) as pool:
        results = list(pool.map(lambda name: open_and_echo(host, name), names))
    consoles = [console for console, _ in results if console is not None]
    try:
        failures = {
            name: what for name, (_, what) in zip(names, results, strict=True) if what != "echoed"
        }
        assert not failures, (
            f"{len(consoles)}/{SESSIONS} echoed; first failures: "
            f"{dict(list(failures.items())[:5])}\n{host.log()}"
        )
        assert len(console_processes(host)) == SESSIONS
        assert connection_handlers(host) == []  # the proxy serves them all itself
        assert open_fds(proxy) >= fds_before["proxy"] + 2 * SESSIONS  # browser + console each
    finally:
        for console in consoles:
            console.close()

    host.assert_idle(SETTLE_TIMEOUT)
    # At most as many as before: the host may have closed a REST connection of the warm-up.
    fds_after = lambda: {"host": open_fds(host.proc.pid), "proxy": open_fds(proxy)}  # noqa: E731
    wait_for(
        lambda: all(fds_after()[name] <= count for name, count in fds_before.items()),
        SETTLE_TIMEOUT,
        f"descriptors back to where they were, {fds_before}",
    )
