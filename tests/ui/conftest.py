"""Browser tests: real headless Chromium (Debian's) against a real ``serialconsole-host``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.integration.helpers import Host, idle_between_tests, shared_host

from .browser import CHROMIUM, CHROMIUM_FLAGS, chromium_available

pytest.importorskip("playwright")
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402


# Package scope: Playwright's sync API keeps an asyncio loop running in this thread while
# it is open, which later asyncio.run() callers (unit tests) must not find.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not chromium_available():
        message = f"{CHROMIUM} is not installed (Debian package chromium; `make system-deps`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright gives each launch a fresh, temporary user-data-dir.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def module_host() -> Iterator[Host]:
    """One host per test module (tests there must not power guests off)."""
    yield from shared_host()


@pytest.fixture
def host(module_host: Host) -> Iterator[Host]:
    """The module's host, idle before the test and again after it (pages closed first)."""
    yield from idle_between_tests(module_host)


class PageProblems:
    """Script errors and refused resources (CSP) a page reported; a test fails on any."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and "Content Security Policy" in message.text
                and self.errors.append(f"CSP: {message.text}")
            ),
        )
        return page


@pytest.fixture
def open_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Browser contexts (fresh storage each); every page in them is watched for script
    errors. All are closed before the host's idle check, so their consoles end."""
    contexts: list[BrowserContext] = []
    problems = PageProblems()

    def open_(locale: str = "en-US", **options) -> BrowserContext:
        context = browser.new_context(locale=locale, **options)
        context.set_default_timeout(15_000)
        context.on("page", problems.watch)
        contexts.append(context)
        return context

    yield open_
    for context in contexts:
        context.close()
    assert not problems.errors, "\n".join(problems.errors)


@pytest.fixture
def page(host: Host, open_context) -> Page:
    """A page in a fresh English context; closed before ``host`` is checked idle."""
    return open_context().new_page()
