"""The boot log in the browser (issue 15): Start on a shut-off guest opens its console
page, which starts it and shows the boot live; the list offers each logged device's log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from playwright.sync_api import Page

from tests.integration.helpers import Console, Host, wait_for

from .browser import (
    console_url,
    js,
    terminal_lines,
    wait_js,
    wait_state,
    wait_terminal_line,
)


@pytest.fixture
def capturing_host(tmp_path: Path) -> Iterator[Host]:
    host = Host("--capture", "all", "--state-dir", str(tmp_path / "state"))
    try:
        yield host.start()
    finally:
        host.finish()


@pytest.fixture
def capturing_page(capturing_host: Host, open_context) -> Page:
    return open_context().new_page()


def guest_row(page: Page, guest: str):
    rows = page.locator("#guests tbody tr")
    return rows.filter(has=page.get_by_role("rowheader", name=guest))


def test_start_opens_the_console_on_the_live_boot(capturing_host, capturing_page):
    page = capturing_page
    page.goto(capturing_host.url)
    wait_js(page, "!document.getElementById('guests').hidden", what="the guest table")
    row = guest_row(page, "mock-broken")
    assert row.get_by_role("link", name="Boot log").count() == 0  # never logged yet
    start = row.get_by_role("link", name="Start")
    with page.context.expect_page() as opened:
        start.click()
    console = opened.value
    wait_state(console, "connected")
    wait_terminal_line(console, "[FAILED] Failed to mount /sysroot.")
    wait_terminal_line(console, "(emergency) #")
    assert "start=1" not in console.url  # a reload reconnects, it does not start again
    console.keyboard.type("echo alive\r")
    wait_terminal_line(console, "alive")
    page.get_by_role("button", name="Refresh").click()
    wait_js(page, "document.querySelector('#guests a[download]') !== null", what="a log link")
    link = guest_row(page, "mock-broken").get_by_role("link", name="Boot log")
    assert link.get_attribute("href") == "vms/mock-broken/serial/log?device=serial0"


def test_the_log_view_finds_a_word_and_jumps_to_a_boot(capturing_host, capturing_page):
    page = capturing_page
    capturing_host.post("vms/mock-broken/start")
    page.goto(console_url(capturing_host, "mock-broken"))
    wait_state(page, "connected")
    page.get_by_role("button", name="Log").click()
    wait_js(page, "document.getElementById('log-status').textContent.startsWith('Log:')")
    search = page.get_by_role("searchbox", name="Search the log")
    search.fill("sysroot")
    search.press("Enter")
    wait_js(page, "document.getElementById('log-status').textContent === 'Found: sysroot'")
    assert js(page, "window.serialconsole.logView.term.getSelection()") == "sysroot"
    search.fill("no such word")
    search.press("Enter")
    wait_js(page, "document.getElementById('log-status').textContent.startsWith('Not found')")
    page.get_by_role("button", name="Next boot").click()
    wait_js(page, "window.serialconsole.logView.term.getSelection().includes('guest started')")
    download = page.get_by_role("link", name="Download")
    assert download.get_attribute("href") == "vms/mock-broken/serial/log?device=serial0"
    page.get_by_role("button", name="Back to console").click()
    wait_js(page, "document.getElementById('log-view').hidden")
    page.keyboard.type("echo back\r")
    wait_terminal_line(page, "back")


def test_the_scrollback_starts_with_the_log_of_the_boot_before(capturing_host, capturing_page):
    host = capturing_host
    url = host.post("vms/mock-vm/serial").json()["ws_url"]
    console = Console(websocket.create_connection(url, timeout=10))
    try:
        console.banner()
        console.send("echo before the reboot\r")
        console.read_until(b"before the reboot\r\n# ")
        console.send("poweroff\r")
        console.read_until_close()
    finally:
        console.close()
    wait_for(lambda: host.get("vms/mock-vm").json()["state"] == "shutoff", 10.0, "shut off")
    assert host.post("vms/mock-vm/start").status_code == 200
    page = capturing_page
    page.goto(console_url(host, "mock-vm"))
    wait_state(page, "connected")
    wait_terminal_line(page, "before the reboot")  # from the log
    wait_terminal_line(page, "[serialconsole] recent output follows")
    wait_terminal_line(page, "simulated guest: booted")  # the capture's replay
    lines = [line.rstrip() for line in terminal_lines(page)]
    earlier, marker = (
        lines.index("before the reboot"),
        lines.index("[serialconsole] recent output follows"),
    )
    assert earlier < marker < max(i for i, x in enumerate(lines) if x == "simulated guest: booted")
