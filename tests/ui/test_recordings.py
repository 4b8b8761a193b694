"""Recordings in the browser (issue 18): the console page lists the guest's recent console
sessions and plays one with the asciinema player, what was typed listed beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.integration.helpers import Host, wait_for

from .browser import console_url, js, wait_js, wait_recorded, wait_state, wait_terminal_line


@pytest.fixture
def recording_host(tmp_path: Path) -> Iterator[Host]:
    host = Host("--capture", "all", "--state-dir", str(tmp_path / "state"), "--record-input", "yes")
    try:
        yield host.start()
    finally:
        host.finish()


def test_a_recorded_session_plays_back_in_the_page(recording_host, open_context):
    host = recording_host
    page: Page = open_context().new_page()
    wait_for(lambda: any(s["capture"] for s in host.sessions()), 10.0, "the captures")
    page.goto(console_url(host, "mock-vm"))
    wait_state(page, "connected")
    page.keyboard.type("echo played-back-line\r")
    wait_terminal_line(page, "played-back-line")
    page.get_by_role("button", name="Disconnect").click()
    wait_state(page, "disconnected")
    wait_recorded(host, "mock-vm", "played-back-line")
    page.get_by_role("button", name="Reconnect").click()  # a second session, to list both
    wait_state(page, "connected")
    wait_for(lambda: len(host.get("vms/mock-vm/recordings").json()) == 2, 10.0, "2 sessions")

    page.get_by_role("button", name="Recordings").click()
    wait_js(page, "document.querySelectorAll('#recordings-list tr').length === 2")
    first = page.locator("#recordings-list tr").nth(1)  # newest first: ours is the older
    assert first.locator("td").nth(3).inner_text() == "Writer"
    first.get_by_role("button", name="Play").click()
    wait_js(
        page,
        "document.getElementById('recording-player').innerText.includes('played-back-line')",
        what="the recorded line in the player",
    )
    typed = page.locator("#recording-typed li")
    assert "echo played-back-line⏎" in typed.first.inner_text()
    assert js(page, "document.getElementById('recordings-status').textContent").startswith(
        "Playing the session of"
    )
    page.get_by_role("button", name="Back to console").click()
    wait_js(page, "document.getElementById('recordings-view').hidden")
    page.keyboard.type("echo live-again\r")
    wait_terminal_line(page, "live-again")


def test_the_recordings_button_needs_the_audit_right(host, page):
    page.goto(console_url(host, "mock-vm"))  # everyone has every right without a rights file
    wait_state(page, "connected")
    wait_js(page, "!document.getElementById('recordings').hidden", what="the Recordings button")
