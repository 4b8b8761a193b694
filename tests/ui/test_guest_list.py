"""The guest list page at the plugin's mount point, in a real browser."""

from __future__ import annotations

from tests.integration.helpers import UNICODE_GUEST

from .browser import wait_js, wait_state, wait_terminal_line


def open_list(page, host):
    page.goto(host.url)
    wait_js(page, "!document.getElementById('guests').hidden", what="the guest table")
    return page


def row(page, guest: str):
    return page.locator("#guests tbody tr").filter(has=page.get_by_role("rowheader", name=guest))


def test_lists_guests_with_state_and_devices(host, page):
    open_list(page, host)
    assert page.title() == "Serial consoles"
    names = page.locator("#guests tbody th").all_inner_texts()
    assert sorted(names) == sorted(
        ["mock-vm", "mock-dual", "mock-off", "mock-noserial", UNICODE_GUEST, "mock-broken"]
    )
    assert row(page, "mock-vm").locator("td").first.inner_text() == "running"
    assert row(page, "mock-off").locator("td").first.inner_text() == "shut off"
    dual = row(page, "mock-dual")
    assert dual.get_by_role("link", name="Open console").count() == 2
    assert "serial1 (pty)" in dual.inner_text()


def test_open_console_is_disabled_with_the_reason(host, page):
    open_list(page, host)
    off = row(page, "mock-off").get_by_role("button", name="Open console")
    assert off.is_disabled()
    assert off.get_attribute("aria-describedby")
    assert "The guest is not running (shut off)." in row(page, "mock-off").inner_text()
    none = row(page, "mock-noserial").get_by_role("button", name="Open console")
    assert none.is_disabled()
    assert "This guest has no serial or console device." in row(page, "mock-noserial").inner_text()
    links = row(page, "mock-off").get_by_role("link")
    assert links.all_inner_texts() == ["Start"]  # starting it is what a shut-off guest offers


def test_open_console_from_the_list_by_keyboard_only(host, page):
    """Tab to mock-vm's link, Enter: the console opens in a new tab, typing goes to the
    guest without a click, and F6 then Tab move focus out of the terminal and back."""
    open_list(page, host)
    label = "Open console serial0 of mock-vm"
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == label:
            break
    else:
        raise AssertionError(f"Tab never reached {label!r}")
    with page.context.expect_page() as opened:
        page.keyboard.press("Enter")
    console = opened.value
    wait_state(console, "connected")
    console.keyboard.type("echo typed\r")
    wait_terminal_line(console, "typed")
    console.keyboard.press("F6")
    wait_js(console, "document.activeElement.id === 'disconnect'")
    for _ in range(30):  # through the toolbar, the back link, and round again
        console.keyboard.press("Tab")
        if console.evaluate("document.activeElement === window.serialconsole.term.textarea"):
            break
    else:
        raise AssertionError("Tab never came back to the terminal")
    console.keyboard.type("echo back\r")
    wait_terminal_line(console, "back")
