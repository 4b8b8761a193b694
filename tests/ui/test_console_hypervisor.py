"""The console page of a guest on a named hypervisor (issue 16): its calls name the
hypervisor of its URL, so a guest whose name exists on two hypervisors opens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.helpers import Host, idle_between_tests, shared_host

from .browser import console_url, wait_prompt_count, wait_state, wait_terminal_line


@pytest.fixture(scope="module")
def module_host() -> Iterator[Host]:
    """Two simulated hypervisors, each with a guest named mock-vm."""
    yield from shared_host("--mock-hypervisors", "2")


@pytest.fixture
def host(module_host: Host) -> Iterator[Host]:
    yield from idle_between_tests(module_host)


def test_the_page_of_the_twin_on_a_named_hypervisor_opens_it(host, page):
    page.goto(console_url(host, "mock-vm", extra="&hypervisor=mock2"))
    wait_state(page, "connected")
    wait_prompt_count(page, 1)
    page.keyboard.type("echo on-mock2\r")
    wait_terminal_line(page, "on-mock2")
    (session,) = host.sessions()
    assert (session["guest"], session["hypervisor"]) == ("mock-vm", "mock2")
