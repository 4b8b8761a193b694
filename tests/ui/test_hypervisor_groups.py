"""Many hypervisors in the browser (issue 16): the guest list grouped by hypervisor, each
group headed by its hypervisor's state, a filter; a guest name found on two hypervisors
opens each one's own console, and the console page names the hypervisor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.integration.helpers import Host, idle_between_tests, shared_host, wait_for

from .browser import wait_js

# A hypervisor nothing answers for: connects to it are refused at once.
GONE = "gone"
GONE_URI = "qemu+tcp://127.0.0.1:1/system"


@pytest.fixture(scope="module")
def gone_module_host() -> Iterator[Host]:
    yield from shared_host("--hypervisor", f"{GONE}={GONE_URI}")


def hypervisor(host: Host, name: str) -> dict:
    """The hypervisor `name` as GET /hypervisors describes it now."""
    (found,) = [hv for hv in host.get("/hypervisors").json() if hv["name"] == name]
    return found


@pytest.fixture
def gone_host(gone_module_host: Host) -> Iterator[Host]:
    """The host once it found `gone` unreachable."""
    wait_for(
        lambda: hypervisor(gone_module_host, GONE)["state"] == "unreachable",
        10,
        f"{GONE} unreachable",
    )
    yield from idle_between_tests(gone_module_host)


def open_list(page: Page, url: str) -> Page:
    page.goto(url)
    wait_js(page, "!document.getElementById('guests').hidden", what="the guest table")
    return page


def group(page: Page, hypervisor: str):
    return page.locator(f"#guests tbody[data-hypervisor='{hypervisor}']")


def heading(page: Page, hypervisor: str) -> str:
    return group(page, hypervisor).locator("th[scope=rowgroup]").inner_text()


def guest_names(page: Page, hypervisor: str) -> list[str]:
    return group(page, hypervisor).locator("th[scope=row]").all_inner_texts()


def test_one_hypervisor_lists_its_guests_as_before(host, page):
    open_list(page, host.url)
    assert page.locator("#guests tbody").count() == 1
    assert page.locator("#guests th[scope=rowgroup]").count() == 0
    assert page.locator("#hypervisor-filter").is_hidden()
    link = page.get_by_role("link", name="Open console serial0 of mock-vm")
    assert "hypervisor=" not in link.get_attribute("href")


def test_an_unreachable_hypervisor_shows_its_state_and_reason(gone_host, page):
    open_list(page, gone_host.url)
    gone = hypervisor(gone_host, GONE)
    text = heading(page, GONE)
    assert text.startswith(f"{GONE} unreachable since "), text
    assert gone["reason"] and gone["reason"] in text
    assert text.endswith("Guests: 0")
    assert heading(page, "default").startswith("default connected since ")


def test_the_filter_shows_one_hypervisor_by_keyboard_and_keeps_it(gone_host, page):
    open_list(page, gone_host.url)
    filter_ = page.get_by_label("Hypervisor")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "hypervisor-filter":
            break
    else:
        raise AssertionError("Tab never reached the hypervisor filter")
    page.keyboard.press("End")
    wait_js(page, "document.getElementById('hypervisor-filter').value === 'gone'")
    assert group(page, GONE).is_visible() and group(page, "default").is_hidden()
    assert page.url.endswith(f"?hypervisor={GONE}")
    open_list(page, page.url)  # a reload shows the same group
    assert filter_.input_value() == GONE
    assert group(page, GONE).is_visible() and group(page, "default").is_hidden()
