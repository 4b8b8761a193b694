"""The console page's Send menu and escape key (issue 17), keyboard only, on the mock model."""

from __future__ import annotations

from tests.integration.helpers import wait_for

from .browser import (
    UI_TIMEOUT,
    console_url,
    focus_terminal,
    js,
    open_console,
    status_text,
    terminal_text,
    wait_js,
    wait_state,
    wait_terminal_line,
    wait_terminal_shows,
)

ACTIVE_ID = "document.activeElement && document.activeElement.id"
ACTIVE_TEXT = "document.activeElement && document.activeElement.textContent"


def wait_status(page, text: str) -> None:
    """Until the status bar says ``text`` (the page shows a send's answer once it is in)."""
    wait_for(lambda: status_text(page) == text, UI_TIMEOUT, f"status {text!r}")


def tab_to(page, element_id: str, presses: int = 20) -> None:
    """From the terminal: F6 leaves it, then Tab until ``element_id`` has the focus. The
    Send button is shown once the page has the send options, a moment after the console
    connected (later on a busy machine): a hidden button is no Tab stop, so wait for it."""
    page.locator(f"#{element_id}").wait_for(state="visible", timeout=UI_TIMEOUT * 1000)
    focus_terminal(page)
    page.keyboard.press("F6")
    for _ in range(presses):
        if js(page, ACTIVE_ID) == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def menu_to(page, label: str) -> None:
    """With the Send button focused: open the menu and arrow down to ``label``."""
    wait_js(page, "document.querySelectorAll('#send-items [role=menuitem]').length > 0")
    page.keyboard.press("Enter")
    assert js(page, "document.getElementById('send').getAttribute('aria-expanded')") == "true"
    for _ in range(20):
        if js(page, ACTIVE_TEXT) == label:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no menu item {label!r}")


def test_send_menu_by_keyboard_sends_sysrq_and_confirms_the_destructive_ones(host, page):
    open_console(page, host)
    tab_to(page, "send")
    # Not destructive: sent at once, the guest's kernel answers on the console.
    menu_to(page, "SysRq: help (h)")
    page.keyboard.press("Enter")
    wait_terminal_shows(page, "sysrq: HELP : loglevel(0-9) reboot(b) crash(c)")
    wait_status(page, "Sent to the guest: SysRq+h (help)")
    assert js(page, ACTIVE_ID) == "send"  # the focus is back on the menu button
    # Crash asks first; Cancel has the focus, and Escape sends nothing.
    menu_to(page, "SysRq: crash (c)…")
    page.keyboard.press("Enter")
    assert page.is_visible("#send-dialog")
    assert "SysRq: crash (c)" in page.inner_text("#send-dialog-text")
    assert js(page, ACTIVE_ID) == "send-dialog-cancel"
    page.keyboard.press("Escape")
    wait_status(page, "Nothing was sent.")
    assert not page.is_visible("#send-dialog")
    # An NMI, confirmed with Tab to Send and Enter.
    menu_to(page, "NMI (non-maskable interrupt)…")
    page.keyboard.press("Enter")
    assert js(page, ACTIVE_ID) == "send-dialog-cancel"
    page.keyboard.press("Tab")
    assert js(page, ACTIVE_ID) == "send-dialog-send"
    page.keyboard.press("Enter")
    wait_terminal_shows(page, "] Dazed and confused, but trying to continue")
    assert "Kernel panic" not in terminal_text(page)
    wait_status(page, "Sent to the guest: NMI")
    # Escape closes the menu without sending.
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert js(page, "document.getElementById('send-items').hidden") is True
    assert js(page, ACTIVE_ID) == "send"


def test_a_control_key_from_the_menu_reaches_the_guest_past_the_escape_key(host, page):
    open_console(page, host)
    tab_to(page, "send")
    menu_to(page, "Control key…")
    page.keyboard.press("Enter")
    assert js(page, ACTIVE_ID) == "control-key"
    assert js(page, "document.getElementById('control-key').value") == "Q"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert js(page, ACTIVE_ID) == "send-dialog-send"
    page.keyboard.press("Enter")
    wait_status(page, "Sent to the guest: Ctrl+Q")
    wait_terminal_line(page, "# ^Q")
    wait_state(page, "connected")


def test_the_escape_key_is_picked_per_page(host, page):
    open_console(page, host)
    assert page.inner_text("#hint").startswith("Ctrl+Q disconnects.")
    page.select_option("#escape-key", "ctrl-]")
    page.wait_for_url("**escape=ctrl-%5D**")
    wait_state(page, "connected")
    assert page.inner_text("#hint").startswith("Ctrl+] disconnects.")
    assert js(page, "document.getElementById('escape-key').value") == "ctrl-]"
    focus_terminal(page)
    page.keyboard.press("Control+q")
    wait_terminal_line(page, "# ^Q")
    assert js(page, "window.serialconsole.state") == "connected"
    page.keyboard.press("Control+BracketRight")
    wait_state(page, "disconnected")
    assert "Disconnected (Ctrl+])." in status_text(page)


def test_with_no_escape_key_the_disconnect_button_ends_the_session(host, page):
    page.goto(console_url(host, extra="&escape=none"))
    wait_state(page, "connected")
    assert page.inner_text("#hint").startswith("Only the Disconnect button disconnects.")
    focus_terminal(page)
    page.keyboard.press("Control+q")
    wait_terminal_line(page, "# ^Q")
    page.click("#disconnect")
    wait_state(page, "disconnected")
    host.wait_for_no_session("mock-vm", "serial0")  # ended, not left for a reattach


def test_a_viewer_page_has_no_send_menu_and_no_input(host, open_context):
    open_console(open_context().new_page(), host)
    viewer = open_context().new_page()
    viewer.goto(console_url(host, extra="&mode=view"))
    wait_state(viewer, "connected")
    assert not viewer.is_visible("#send")
    assert not viewer.is_visible("#escape-field")
    assert js(viewer, "document.querySelectorAll('#send-items [role=menuitem]').length") == 0
    assert js(viewer, "window.serialconsole.term.options.disableStdin") is True
