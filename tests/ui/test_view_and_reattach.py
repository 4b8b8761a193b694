"""The console page's view mode, reattach after a reload, and the transcript download."""

from __future__ import annotations

import re

from .browser import (
    console_url,
    focus_terminal,
    open_console,
    status_text,
    terminal_lines,
    terminal_text,
    wait_js,
    wait_prompt_count,
    wait_state,
    wait_terminal_line,
)


def open_viewer(page, host):
    page.goto(console_url(host, extra="&mode=view"))
    wait_state(page, "connected")
    return page


def test_viewer_page_is_marked_and_sees_the_writer(host, open_context):
    writer = open_console(open_context().new_page(), host)
    viewer = open_viewer(open_context().new_page(), host)
    assert viewer.is_visible("#view-only")
    assert not writer.is_visible("#view-only")
    assert status_text(viewer) == "Watching (view only)"
    assert "View only" in viewer.inner_text("#hint")
    writer.keyboard.type("echo from-the-writer\r")
    wait_terminal_line(viewer, "from-the-writer")


def test_viewer_page_types_nothing_into_the_guest(host, open_context):
    writer = open_console(open_context().new_page(), host)
    viewer = open_viewer(open_context().new_page(), host)
    wait_prompt_count(viewer, 1)
    focus_terminal(viewer)
    viewer.keyboard.type("echo from-the-viewer\r")
    writer.keyboard.type("echo marker\r")
    wait_terminal_line(viewer, "marker")
    for page in (writer, viewer):
        assert "from-the-viewer" not in terminal_text(page)


def test_reload_reattaches_and_replays_recent_output(host, page):
    open_console(page, host)
    page.keyboard.type("seq 40\r")
    wait_terminal_line(page, "40")
    page.reload()
    wait_state(page, "connected")
    assert re.fullmatch(r"Reattached: \d+ bytes of recent output replayed", status_text(page))
    wait_terminal_line(page, "40")
    numbers = [line.strip() for line in terminal_lines(page) if re.fullmatch(r"\d+", line.strip())]
    assert numbers == [str(n) for n in range(1, 41)]
    page.keyboard.type("echo after-reload\r")
    wait_terminal_line(page, "after-reload")


def test_download_holds_what_the_terminal_showed(host, page, tmp_path):
    open_console(page, host)
    page.keyboard.type("echo in-the-transcript\r")
    wait_terminal_line(page, "in-the-transcript")
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert re.fullmatch(r"[A-Za-z0-9._-]+\.log", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    transcript = saved.read_bytes().decode()
    assert "\r\nin-the-transcript\r\n" in transcript
    assert "Simulated serial console of guest mock-vm" in transcript


def test_download_without_a_session_says_why(host, page):
    """The page's own session ended (Disconnect): there is nothing to download."""
    open_console(page, host)
    page.click("#disconnect")
    wait_state(page, "disconnected")
    host.wait_for_no_session("mock-vm", "serial0")
    page.click("#download")
    wait_js(page, "document.getElementById('status-text').textContent.startsWith('No transcript')")


def test_a_busy_console_offers_to_watch(host, open_context):
    open_console(open_context().new_page(), host)
    other = open_context().new_page()
    other.goto(console_url(host))
    wait_js(other, "!document.getElementById('watch').hidden", timeout=20)
    other.click("#watch")
    wait_state(other, "connected")
    assert "mode=view" in other.url
    assert other.is_visible("#view-only")


def test_guest_list_links_to_watch(host, page):
    page.goto(host.url)
    link = page.get_by_role("link", name="Watch console serial0 of mock-vm (view only)")
    assert "mode=view" in link.get_attribute("href")
