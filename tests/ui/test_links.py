"""Console pages that must not run as asked: a ``#ws=`` link to a WebSocket server that is
not this host's (issue 13, item 5), and a web UI whose xterm.js was never installed (issue
14, item 7)."""

from __future__ import annotations

import select
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.integration.helpers import Host, config_file, shared_host, ui_without_xterm

from .browser import console_url, status_text, wait_prompt_count, wait_state

TOKEN = "A" * 43
REFUSED = (
    "Refused to connect to {address}: this page connects only to the consoles this host hands out."
)
UNBUILT = {
    "en-US": "The web UI is not built on this host: run `make ui`",
    "de-DE": "Die Weboberfläche ist auf diesem Host nicht gebaut: Führen Sie `make ui`",
}


@pytest.fixture
def fake_server() -> Iterator[socket.socket]:
    """A listening socket on loopback standing in for an attacker's WebSocket server."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


def connection_attempted(listener: socket.socket) -> bool:
    """True when a client connected (it waits in the backlog: nothing accepts it)."""
    readable, _, _ = select.select([listener], [], [], 0)
    return bool(readable)


def notice(page) -> str:
    return page.evaluate(
        "(() => { const n = document.getElementById('notice'); return n.hidden ? '' : "
        "n.textContent; })()"
    )


@pytest.mark.parametrize(
    "link",
    [
        "ws://127.0.0.1:{port}/?token={token}",
        "ws://localhost:{port}/",
        # this host's console URL with more after the token, a different path or host name
        "{prefix}{token}&next=ws://127.0.0.1:{port}/",
        "{origin}/elsewhere?token={token}",
        "ws://localhost:{ws_port}/?token={token}",
    ],
)
def test_a_link_to_another_websocket_is_refused_and_never_connected(host, page, fake_server, link):
    port = fake_server.getsockname()[1]
    origin = host.ws_url.rstrip("/")  # ws://127.0.0.1:<ws_port>, the default template's
    url = link.format(
        port=port,
        token=TOKEN,
        prefix=f"{origin}/?token=",
        origin=origin,
        ws_port=origin.rsplit(":", 1)[1],
    )
    page.goto(console_url(host) + "#ws=" + quote(url, safe=""))
    wait_state(page, "disconnected")
    assert notice(page) == REFUSED.format(address=urlsplit(url).netloc)
    assert status_text(page) == "Disconnected: " + notice(page)
    assert page.evaluate("location.hash") == ""
    # Whatever is typed now goes nowhere: the terminal takes no input.
    assert page.evaluate("window.serialconsole.term.options.disableStdin") is True
    assert not connection_attempted(fake_server)
    assert host.sessions() == []


def test_the_refusal_names_the_server_in_the_page_language_and_reconnect_works(
    host, open_context, fake_server
):
    port = fake_server.getsockname()[1]
    page = open_context(locale="de-DE").new_page()
    page.goto(console_url(host) + "#ws=" + quote(f"ws://127.0.0.1:{port}/?token={TOKEN}"))
    wait_state(page, "disconnected")
    assert notice(page) == (
        f"Verbindung zu 127.0.0.1:{port} abgelehnt: Diese Seite verbindet sich nur mit den "
        "Konsolen, die dieser Host vergibt."
    )
    # Reconnect asks this host's REST API for a console of its own.
    page.get_by_role("button", name="Neu verbinden").click()
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    assert not connection_attempted(fake_server)
    assert len(host.sessions()) == 1


# --------------------------------------------------------------------------- no xterm.js


@pytest.fixture(scope="module")
def unbuilt_host() -> Iterator[Host]:
    """A host serving a UI directory that `make ui` never completed: no xterm.js."""
    with tempfile.TemporaryDirectory(prefix="scui", dir="/tmp") as directory:
        ui_dir = ui_without_xterm(Path(directory) / "ui")
        config = config_file(Path(directory), "serialconsole", ui_dir=str(ui_dir))
        yield from shared_host("--config", str(config))


@pytest.mark.parametrize("locale", sorted(UNBUILT))
def test_a_page_without_xterm_says_the_ui_is_not_built(unbuilt_host, open_context, locale):
    """No `window.Terminal is not a constructor`: open_context fails on any page error."""
    page = open_context(locale=locale).new_page()
    page.goto(console_url(unbuilt_host))
    wait_state(page, "unbuilt")
    assert notice(page).startswith(UNBUILT[locale])
    assert status_text(page) == notice(page)
    assert page.evaluate("[...document.querySelectorAll('button')].every((b) => b.disabled)")
    assert unbuilt_host.sessions() == []
