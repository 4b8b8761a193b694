"""Many hypervisors in the browser (issue 16): the guest list grouped by hypervisor, each
group headed by its hypervisor's state, a filter; a guest name found on two hypervisors
opens each one's own console, and the console page names the hypervisor."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route

from tests.integration.helpers import Host, idle_between_tests, shared_host, wait_for
from tests.integration.helpers.slow_listing import release

from .browser import console_url, wait_js, wait_prompt_count, wait_state, wait_terminal_line

# The second simulated hypervisor, with a copy of mock-vm (same name, same UUID).
MOCK2 = "mock2"
TWIN = "mock-vm"
# A hypervisor nothing answers for: connects to it are refused at once.
GONE = "gone"
GONE_URI = "qemu+tcp://127.0.0.1:1/system"


@pytest.fixture(scope="module")
def fleet_module_host() -> Iterator[Host]:
    yield from shared_host("--mock-hypervisors", "2")


@pytest.fixture
def fleet_host(fleet_module_host: Host) -> Iterator[Host]:
    yield from idle_between_tests(fleet_module_host)


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


@pytest.fixture
def slow_host(tmp_path: Path) -> Iterator[tuple[Host, Path]]:
    """A host whose mock2 is connected but lists its guests only when the test releases
    the gate it returns (see ``slow_listing``)."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    slow = [sys.executable, "-m", "tests.integration.helpers.slow_listing", str(gate), MOCK2]
    host = Host("--mock-hypervisors", "2", command=slow)
    try:
        host.start()
        yield host, gate
    finally:
        if host.running:
            release(gate, 100)  # a held listing and any later one
        host.finish()


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


def test_guests_are_grouped_under_their_hypervisors_state(fleet_host, page):
    open_list(page, fleet_host.url)
    assert page.locator("#guests tbody").count() == 2
    listed = fleet_host.get("/vms").json()
    for name in ("default", MOCK2):
        text = heading(page, name)
        assert text.startswith(f"{name} connected since "), text
        count = sum(guest["hypervisor"] == name for guest in listed)
        assert text.endswith(f"Guests: {count}"), text
        expected = [guest["name"] for guest in listed if guest["hypervisor"] == name]
        assert sorted(guest_names(page, name)) == sorted(expected)
    assert TWIN in guest_names(page, "default") and TWIN in guest_names(page, MOCK2)
    filter_ = page.get_by_label("Hypervisor")
    assert filter_.is_visible()
    assert filter_.locator("option").all_inner_texts() == ["All hypervisors", "default", MOCK2]


def test_the_twin_name_opens_each_hypervisors_own_console(fleet_host, page):
    """mock-vm on both hypervisors: each group's link opens that hypervisor's console, both
    at once (one console would be in use), and every REST call a page makes for the guest
    names its hypervisor."""
    guest_calls: list[str] = []
    page.context.on(
        "request", lambda request: "/vms/" in request.url and guest_calls.append(request.url)
    )
    open_list(page, fleet_host.url)
    consoles = {}
    for hypervisor, label in (("default", TWIN), (MOCK2, f"{TWIN} on {MOCK2}")):
        link = group(page, hypervisor).get_by_role("link", name=f"Open console serial0 of {label}")
        with page.context.expect_page() as opened:
            link.click()
        console = opened.value
        wait_state(console, "connected")
        assert f"hypervisor={hypervisor}" in console.url
        assert console.title() == f"{label} – serial console"
        assert console.locator("#guest-name").inner_text() == label
        consoles[hypervisor] = console
    for hypervisor, console in consoles.items():
        assert console.evaluate("window.serialconsole.state") == "connected"
        console.keyboard.type(f"echo typed-on-{hypervisor}\r")
        wait_terminal_line(console, f"typed-on-{hypervisor}")
    sessions = fleet_host.get("/sessions").json()
    assert sorted(session["hypervisor"] for session in sessions) == ["default", MOCK2]
    qualified = re.compile(rf"/hypervisors/(default|{MOCK2})/vms/{TWIN}(/|\?|$)")
    assert guest_calls and all(qualified.search(url) for url in guest_calls), guest_calls


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


def answer_changed(route: Route, match: tuple[str, str], change: tuple[str, str]) -> None:
    """The host's JSON list answer, with field ``change[0]`` set to ``change[1]`` in the
    items whose field ``match[0]`` is ``match[1]``."""
    items = route.fetch().json()
    for item in items:
        if item[match[0]] == match[1]:
            item[change[0]] = change[1]
    route.fulfill(status=200, content_type="application/json", body=json.dumps(items))


def mark_unreachable(route: Route, hypervisor: str) -> None:
    """GET vms as the host answers it while `hypervisor` does not: its guests listed as
    last seen, in state "unreachable"."""
    answer_changed(route, ("hypervisor", hypervisor), ("state", "unreachable"))


def test_guests_of_an_unreachable_hypervisor_cannot_be_opened(fleet_host, page):
    page.route(re.compile(r"/vms(\?.*)?$"), lambda route: mark_unreachable(route, MOCK2))
    open_list(page, fleet_host.url)
    row = group(page, MOCK2).locator("tr", has=page.get_by_role("rowheader", name=TWIN))
    assert row.locator("td.state").inner_text() == "unreachable"
    assert row.get_by_role("link").count() == 0
    button = row.get_by_role("button", name="Open console")
    assert button.is_disabled()
    assert f"Its hypervisor {MOCK2} does not answer." in row.inner_text()
    twin_on_default = group(page, "default").locator(
        "tr", has=page.get_by_role("rowheader", name=TWIN)
    )
    assert twin_on_default.get_by_role("link", name=f"Open console serial0 of {TWIN}").count() == 1


def test_groups_and_the_console_title_speak_the_page_language(fleet_host, open_context):
    page = open_list(open_context(locale="de-DE").new_page(), fleet_host.url)
    assert heading(page, MOCK2).startswith(f"{MOCK2} verbunden seit "), heading(page, MOCK2)
    assert page.get_by_label("Hypervisor").locator("option").first.inner_text() == (
        "Alle Hypervisoren"
    )
    link = group(page, MOCK2).get_by_role(
        "link", name=f"Konsole serial0 von {TWIN} auf {MOCK2} öffnen"
    )
    with page.context.expect_page() as opened:
        link.click()
    console = opened.value
    wait_state(console, "connected")
    assert console.title() == f"{TWIN} auf {MOCK2} – serielle Konsole"


def test_the_page_of_the_twin_on_a_named_hypervisor_opens_it(fleet_host, page):
    """The console page's calls name the hypervisor of its URL, so a guest whose name
    exists on two hypervisors opens."""
    page.goto(console_url(fleet_host, TWIN, extra=f"&hypervisor={MOCK2}"))
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    page.keyboard.type("echo on-mock2\r")
    wait_terminal_line(page, "on-mock2")
    (session,) = fleet_host.sessions()
    assert (session["guest"], session["hypervisor"]) == (TWIN, MOCK2)


def test_a_slow_hypervisor_says_it_is_listing_and_its_guests_stay_openable(slow_host, page):
    """A connected hypervisor slower than the bound had its guests shown unreachable, their
    consoles refused."""
    host, gate = slow_host
    open_list(page, host.url)  # mock2's first listing is held
    text = heading(page, MOCK2)
    assert text.startswith(f"{MOCK2} connected since ") and "listing…" in text, text
    assert "as listed at" not in text and guest_names(page, MOCK2) == []
    release(gate)  # the first listing answers, after the page stopped waiting for it
    wait_for(lambda: hypervisor(host, MOCK2)["listed_at"], 10, f"{MOCK2}'s first listing")
    page.locator("#refresh").click()  # its next listing is held
    group(page, MOCK2).locator(".listing", has_text="as listed at").wait_for()
    assert heading(page, MOCK2).count("listing…") == 1
    row = group(page, MOCK2).locator("tr", has=page.get_by_role("rowheader", name="mock2-web"))
    state = row.locator("td.state").inner_text()
    assert state.startswith("running as listed at "), state
    link = row.get_by_role("link", name=f"Open console serial0 of mock2-web on {MOCK2}")
    with page.context.expect_page() as opened:
        link.click()
    console = opened.value
    release(gate, 100)  # the open looks its guest up afresh, behind the held listing
    wait_state(console, "connected")


def mark_timed_out(route: Route, hypervisor: str) -> None:
    """GET hypervisors as the host answers it once `hypervisor`'s listing timed out."""
    answer_changed(route, ("name", hypervisor), ("listing", "timed-out"))


def test_a_hypervisor_whose_listing_timed_out_says_so(fleet_host, page):
    page.route(re.compile(r"/hypervisors(\?.*)?$"), lambda route: mark_timed_out(route, MOCK2))
    open_list(page, fleet_host.url)
    assert "its listing does not answer" in heading(page, MOCK2)
    assert "listing" not in heading(page, "default")
