"""Browser-test helpers: Debian's Chromium driven by Playwright, and reading the terminal.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` with flags that
keep an offline machine's Chromium quiet. Every wait is bounded (``wait_for`` polls).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.integration.helpers import wait_for

CHROMIUM = os.environ.get("SERIALCONSOLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT = 15.0
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"

TERMINAL_TEXT = """() => {
  const buffer = window.serialconsole.term.buffer.active;
  const lines = [];
  for (let i = 0; i < buffer.length; i++) {
    lines.push(buffer.getLine(i).translateToString(true));
  }
  return lines.join("\\n");
}"""


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).is_file()


def js(page, expression: str, arg: Any = None) -> Any:
    return page.evaluate(expression, arg)


def wait_js(page, expression: str, timeout: float = UI_TIMEOUT, what: str | None = None) -> Any:
    """Poll a JS expression until truthy. (Playwright's wait_for_function evaluates strings
    with eval, which the pages' Content-Security-Policy rightly forbids.)"""
    return wait_for(lambda: page.evaluate(expression), timeout, what or expression)


def console_state(page) -> str | None:
    return page.evaluate("window.serialconsole ? window.serialconsole.state : null")


def wait_state(page, state: str, timeout: float = UI_TIMEOUT) -> None:
    wait_for(
        lambda: console_state(page) == state,
        timeout,
        f"console state {state!r} (status: {status_text(page)!r})",
    )


def status_text(page) -> str:
    return page.evaluate("document.getElementById('status-text')?.textContent ?? ''")


def terminal_text(page) -> str:
    return page.evaluate(TERMINAL_TEXT)


def terminal_lines(page) -> list[str]:
    return terminal_text(page).split("\n")


def wait_terminal_line(page, line: str, timeout: float = UI_TIMEOUT) -> None:
    """Until the terminal shows a line that is exactly ``line`` (trailing blanks ignored)."""
    wait_for(
        lambda: line in [text.rstrip() for text in terminal_lines(page)],
        timeout,
        f"terminal line {line!r} in:\n{terminal_text(page)[-1500:]}",
    )


def wait_terminal_shows(page, text: str, timeout: float = UI_TIMEOUT) -> None:
    """Until ``text`` appears in the terminal, also across a wrapped line."""
    wait_for(
        lambda: text in "".join(terminal_lines(page)),
        timeout,
        f"{text!r} in:\n{terminal_text(page)[-1500:]}",
    )


def wait_prompt_count(page, count: int, timeout: float = UI_TIMEOUT) -> None:
    """Until at least ``count`` lines start with the simulated shell's prompt."""
    wait_for(
        lambda: sum(t.startswith("# ") or t == "#" for t in terminal_lines(page)) >= count,
        timeout,
        f"{count} prompts in:\n{terminal_text(page)[-1500:]}",
    )


def focus_terminal(page) -> None:
    page.evaluate("window.serialconsole.term.focus()")
    wait_js(page, "document.activeElement === window.serialconsole.term.textarea")


def console_url(host, guest: str = "mock-vm", device: str = "serial0", extra: str = "") -> str:
    """The console page of ``guest``'s ``device`` on ``host`` (it POSTs for its token)."""
    return f"{host.url}console.html?guest={quote(guest, safe='')}&device={device}{extra}"


def open_console(page, host, guest: str = "mock-vm", device: str = "serial0"):
    """``page`` on the console of ``guest``'s ``device``, connected, its first prompt shown."""
    page.goto(console_url(host, guest, device))
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    return page


# Buttons the console page shows once a request of its own answers (the Send menu's options,
# the operator's rights for Recordings), and whether the terminal then fills what is left.
TOOLBAR_COMPLETE = """() => {
  const shown = (id) => !document.getElementById(id).hidden;
  const { term, fit } = window.serialconsole;
  const size = term && fit.proposeDimensions();
  return shown("send-area") && shown("recordings") && !!size
    && size.cols === term.cols && size.rows === term.rows;
}"""


def wait_toolbar_complete(page) -> None:
    """Until the console page of an operator with every right shows its whole toolbar and
    the terminal is fitted to the space left. Those buttons come a moment after the console
    connects (later still on a busy machine); when the toolbar then wraps, the terminal
    loses a row, and xterm.js clears its selection on such a resize: a test that selects
    text waits for this first."""
    wait_for(
        lambda: page.evaluate(TOOLBAR_COMPLETE),
        UI_TIMEOUT,
        "the Send and Recordings buttons shown and the terminal fitted below them",
    )


def wait_recorded(host, guest: str, text: str, timeout: float = UI_TIMEOUT) -> None:
    """Until the newest recording of ``guest`` holds ``text`` (the capture log is written a
    moment after the guest printed it)."""

    def recorded() -> bool:
        listed = host.get(f"vms/{guest}/recordings").json()
        if not listed:
            return False
        cast = host.get(f"vms/{guest}/recordings/{listed[0]['session']}")
        return text in cast.text

    wait_for(recorded, timeout, f"{text!r} in the newest recording of {guest}")
