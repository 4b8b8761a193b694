"""How a console session ends on the page: the reason shown, the text kept, Reconnect."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.integration.helpers import Host

from .browser import (
    console_url,
    open_console,
    status_text,
    terminal_text,
    wait_js,
    wait_prompt_count,
    wait_state,
    wait_terminal_line,
)
from .fake_ws import ScriptedServer


def test_ctrl_q_disconnects_with_the_reason_and_reconnect_works(host, page):
    open_console(page, host)
    page.keyboard.type("echo before\r")
    wait_terminal_line(page, "before")
    page.keyboard.press("Control+q")
    wait_state(page, "disconnected")
    assert status_text(page) == "Disconnected: Disconnected (Ctrl+Q)."
    assert page.evaluate("window.serialconsole.term.options.disableStdin") is True
    # Keyboard only: F6 leaves the terminal for the Reconnect button.
    page.keyboard.press("F6")
    wait_js(page, "document.activeElement.id === 'reconnect'")
    page.keyboard.press("Enter")
    wait_state(page, "connected")
    wait_prompt_count(page, 3)
    page.keyboard.type("echo after\r")
    wait_terminal_line(page, "after")
    assert "before" in terminal_text(page)  # the first session's text is still there


def test_split_utf8_and_final_line_across_frames(open_context):
    """The page decodes output as one UTF-8 stream, whatever the frame boundaries."""
    text = "café 虚拟机 😀 ok\r\n".encode()
    final = b"\r\n[serialconsole] The guest stopped. (SCONS0104L)\r\n"
    frames = [text[:4], text[4:7], text[7:13], text[13:17], text[17:], final[:9], final[9:]]
    assert text[:4] == b"caf\xc3"  # the first frame ends inside 'é'
    with contextlib.ExitStack() as cleanup:
        server = ScriptedServer(frames)
        cleanup.callback(server.listener.close)
        # The page connects only to the consoles its host hands out: this host's are here.
        host = Host("--websocket-url", f"ws://{{hostname}}:{server.port}/")
        cleanup.callback(host.finish)
        host.start()
        page = open_context().new_page()
        with server:
            page.goto(console_url(host) + "#ws=" + quote(server.url, safe=""))
            wait_state(page, "disconnected")
        assert server.error is None, server.error
        wait_terminal_line(page, "café 虚拟机 😀 ok")
        assert "\ufffd" not in terminal_text(page)
        assert status_text(page) == "Disconnected: The guest stopped."
        assert host.sessions() == []  # the given ws_url was used; nothing was POSTed
        page.close()


@pytest.fixture
def own_host() -> Iterator[Host]:
    """A host for this test alone: powering a guest off lasts until the host restarts."""
    host = Host()
    try:
        yield host.start()
    finally:
        host.finish()


def test_poweroff_shows_the_reason_and_keeps_the_text(own_host, open_context):
    page = open_context().new_page()
    open_console(page, own_host)
    page.keyboard.type("echo still-here\r")
    wait_terminal_line(page, "still-here")
    page.keyboard.type("poweroff\r")
    wait_state(page, "disconnected")
    assert status_text(page) == "Disconnected: The guest stopped."
    text = terminal_text(page)
    for line in ("still-here", "reboot: Power down", "[serialconsole] The guest stopped."):
        assert line in text
    assert page.locator("#reconnect").is_enabled()
    page.locator("#reconnect").click()  # the guest is off now: the REST API says why
    wait_js(page, "document.getElementById('status-text').textContent.includes('shutoff')")
    assert status_text(page) == ("Disconnected: Guest mock-vm is not running (state: shutoff).")
    assert "still-here" in terminal_text(page)
    page.context.close()


def test_take_over_a_console_in_use(host, open_context):
    context = open_context()
    first = open_console(context.new_page(), host)
    second = context.new_page()
    second.goto(console_url(host))
    wait_js(second, "!document.getElementById('takeover').hidden", what="the Take over button")
    assert "already in use" in status_text(second)
    second.get_by_role("button", name="Take over").click()
    wait_state(second, "connected")
    wait_state(first, "disconnected")
    assert status_text(first) == "Disconnected: The console was taken over by another session."
    second.keyboard.type("echo mine\r")
    wait_terminal_line(second, "mine")
