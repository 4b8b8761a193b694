"""The console page on the real host: typing, output, fitting, fonts, clipboard, title."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from tests.integration.helpers import UNICODE_GUEST, wait_equal

from .browser import (
    ARTIFACTS,
    UI_TIMEOUT,
    focus_terminal,
    open_console,
    status_text,
    terminal_lines,
    terminal_text,
    wait_js,
    wait_prompt_count,
    wait_state,
    wait_terminal_line,
    wait_toolbar_complete,
)


def test_echo_hi(host, page):
    open_console(page, host)
    assert status_text(page) == "Connected"
    page.keyboard.type("echo hi\r")
    wait_terminal_line(page, "hi")
    assert page.title() == "mock-vm – serial console"
    assert page.inner_text("#device-name") == "serial0"


def test_page_from_the_post_answer_uses_its_ws_url_and_drops_the_fragment(host, page):
    answer = host.open("mock-vm")
    page.goto(host.url.split("/plugins/")[0] + answer["page"])
    wait_state(page, "connected")
    assert page.evaluate("location.hash") == ""
    assert page.evaluate("location.search") == "?guest=mock-vm&device=serial0"
    # The page used the token it was given: no second session was opened.
    assert len(host.sessions()) == 1
    page.keyboard.type("echo via-post\r")
    wait_terminal_line(page, "via-post")


def test_non_ascii_renders(host, page):
    open_console(page, host, UNICODE_GUEST)
    assert page.title() == f"{UNICODE_GUEST} – serial console"
    wait_terminal_line(page, f"Simulated serial console of guest {UNICODE_GUEST}. Type 'help'.")
    page.keyboard.type("echo ünïcödé 虚拟机 ✓ €\r")
    wait_terminal_line(page, "ünïcödé 虚拟机 ✓ €")
    assert "\ufffd" not in terminal_text(page)


def test_terminal_fits_the_window_and_follows_it(host, page):
    page.set_viewport_size({"width": 800, "height": 500})
    open_console(page, host)
    small = page.evaluate("[window.serialconsole.term.cols, window.serialconsole.term.rows]")
    page.set_viewport_size({"width": 1200, "height": 800})
    wait_js(page, f"window.serialconsole.term.cols > {small[0]}")
    wait_js(page, f"window.serialconsole.term.rows > {small[1]}")
    # The terminal fills the space between the toolbar and the status bar.
    box = page.locator("#terminal .xterm-screen").bounding_box()
    assert box["width"] > 1100 and box["height"] > 600, box


def test_font_size_control_is_kept(host, page):
    open_console(page, host)
    size = page.evaluate("window.serialconsole.term.options.fontSize")
    cols = page.evaluate("window.serialconsole.term.cols")
    page.get_by_role("button", name="Larger font").click()
    page.get_by_role("button", name="Larger font").click()
    assert page.evaluate("window.serialconsole.term.options.fontSize") == size + 2
    assert page.inner_text("#font-size") == str(size + 2)
    wait_js(page, f"window.serialconsole.term.cols < {cols}")
    page.reload()  # the fragment-less page opens a new session itself
    wait_state(page, "connected")
    assert page.evaluate("window.serialconsole.term.options.fontSize") == size + 2
    page.get_by_role("button", name="Smaller font").click()
    assert page.evaluate("window.serialconsole.term.options.fontSize") == size + 1


def test_copy_and_paste_with_the_keyboard(host, open_context):
    context = open_context(permissions=["clipboard-read", "clipboard-write"])
    page = open_console(context.new_page(), host)
    wait_toolbar_complete(page)  # a resize after the selection would clear it
    page.keyboard.type("echo copy-me\r")
    wait_terminal_line(page, "copy-me")
    page.evaluate("window.serialconsole.term.selectAll()")
    page.keyboard.press("Control+Shift+C")
    wait_js(page, "navigator.clipboard.readText().then(t => t.includes('copy-me'))")
    page.evaluate("navigator.clipboard.writeText('echo pasted-1')")
    focus_terminal(page)
    page.keyboard.press("Control+Shift+V")
    page.keyboard.press("Enter")
    wait_terminal_line(page, "pasted-1")
    page.evaluate("navigator.clipboard.writeText('echo pasted-2')")
    page.keyboard.press("Shift+Insert")
    page.keyboard.press("Enter")
    wait_terminal_line(page, "pasted-2")


# What a right click leaves behind: where the focus is, whether xterm's text area holds the
# selected text, whether the terminal still has a selection (a resize or input clears it).
MENU_STATE = """() => {
  const term = window.serialconsole.term;
  return {
    focused: document.activeElement === term.textarea,
    holds: term.textarea.value.includes("menu-copy"),
    selected: term.hasSelection(),
  };
}"""


def test_context_menu_gets_the_selection(host, page):
    """A right click puts xterm's text area, holding the selection, under the pointer, so
    the browser's own context menu Copy and Paste act on the terminal."""
    open_console(page, host)
    wait_toolbar_complete(page)  # a resize after the selection would clear it
    page.keyboard.type("echo menu-copy\r")
    wait_terminal_line(page, "menu-copy")
    page.evaluate("window.serialconsole.term.selectAll()")
    page.locator("#terminal .xterm-screen").click(button="right", position={"x": 40, "y": 40})
    wait_equal(
        lambda: page.evaluate(MENU_STATE),
        {"focused": True, "holds": True, "selected": True},
        UI_TIMEOUT,
        "the text area focused and holding the selection, the selection kept",
    )


# What a background tab does to a page (headless Chromium never hides one): no animation
# frames at all, timers throttled to one second. Installed before the page's own scripts.
BACKGROUND_EMULATION = """
(() => {
  const raf = window.requestAnimationFrame.bind(window);
  const timeout = window.setTimeout.bind(window);
  const held = [];
  window.__background = {
    on: false,
    leave() {
      this.on = false;
      held.splice(0).forEach((callback) => raf(callback));
    },
  };
  window.requestAnimationFrame = (callback) =>
    window.__background.on ? (held.push(callback), 0) : raf(callback);
  window.setTimeout = (callback, delay, ...args) =>
    timeout(callback, window.__background.on ? Math.max(delay || 0, 1000) : delay, ...args);
})();
"""


def test_no_output_lost_in_a_background_tab(host, page):
    page.add_init_script(BACKGROUND_EMULATION)
    open_console(page, host)
    page.evaluate("window.__background.on = true")
    page.evaluate("window.serialconsole.connection.send('seq 3000\\r')")
    wait_js(page, "window.serialconsole.connection.tail.endsWith('3000\\r\\n# ')", timeout=30)
    page.evaluate("window.__background.leave()")
    wait_prompt_count(page, 2, timeout=30)
    numbers = [line.strip() for line in terminal_lines(page) if re.fullmatch(r"\d+", line.strip())]
    assert numbers == [str(n) for n in range(1, 3001)]


def test_screenshot(host, page):
    """The README's picture of the console page (also kept as a test artifact)."""
    page.set_viewport_size({"width": 1000, "height": 560})
    open_console(page, host)
    for command in ("help", "echo Hello from the browser: ünïcödé ✓", "seq 3"):
        page.keyboard.type(command + "\r")
    wait_terminal_line(page, "3")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    targets = [ARTIFACTS / "console-page.png"]
    if os.environ.get("SERIALCONSOLE_SCREENSHOT"):
        targets.append(Path(os.environ["SERIALCONSOLE_SCREENSHOT"]))
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target))
        assert target.stat().st_size > 10_000


def test_paste_larger_than_a_websocket_message_arrives_whole(host, page):
    """The proxy refuses one message over 1 MiB; the page splits a big paste into frames."""
    lines = [f"line {n:06d} abcdefghijklmnopqrstuvwxyz0123456789" for n in range(32000)]
    text = "\n".join(lines) + "\n"
    assert len(text.encode()) > 1024 * 1024
    open_console(page, host)
    page.keyboard.type("sha256sum\r")
    page.evaluate("(text) => window.serialconsole.term.paste(text)", text)
    focus_terminal(page)
    page.keyboard.press("Control+D")
    digest = hashlib.sha256(text.encode()).hexdigest()
    wait_terminal_line(page, f"{digest}  -", timeout=60)
    assert status_text(page) == "Connected"
