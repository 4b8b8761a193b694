"""Password guessing is slowed per name and address, then forgotten."""

from __future__ import annotations

import pytest

from plugin_serialconsole.host import throttle as module
from plugin_serialconsole.host.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(throttle: LoginThrottle, times: int, address: str = "10.0.0.1", name: str = "alice"):
    for _ in range(times):
        throttle.failed(address, name)


def test_free_tries_then_doubling_waits(clock):
    throttle = LoginThrottle(clock)
    fail(throttle, module.FREE_TRIES_PER_NAME - 1)
    assert throttle.wait_time("10.0.0.1", "alice") == 0
    fail(throttle, 1)
    assert throttle.wait_time("10.0.0.1", "alice") == 1.0
    clock.now += 1.0
    assert throttle.wait_time("10.0.0.1", "alice") == 0
    fail(throttle, 1)
    assert throttle.wait_time("10.0.0.1", "alice") == 2.0
    fail(throttle, 20)
    assert throttle.wait_time("10.0.0.1", "alice") == module.MAX_WAIT


def test_other_names_and_addresses_are_not_slowed(clock):
    throttle = LoginThrottle(clock)
    fail(throttle, module.FREE_TRIES_PER_NAME + 3)
    assert throttle.wait_time("10.0.0.1", "bob") == 0
    assert throttle.wait_time("10.0.0.2", "alice") == 0


def test_one_address_trying_many_names_is_slowed(clock):
    throttle = LoginThrottle(clock)
    for number in range(module.FREE_TRIES_PER_ADDRESS):
        throttle.failed("10.0.0.1", f"user{number}")
    assert throttle.wait_time("10.0.0.1", "yet-another") == 1.0
    assert throttle.wait_time("10.0.0.2", "yet-another") == 0


def test_success_clears_the_name_and_old_failures_are_forgotten(clock):
    throttle = LoginThrottle(clock)
    fail(throttle, module.FREE_TRIES_PER_NAME + 2)
    throttle.succeeded("10.0.0.1", "alice")
    assert throttle.wait_time("10.0.0.1", "alice") == 0
    fail(throttle, module.FREE_TRIES_PER_NAME + 2, name="bob")
    clock.now += module.FORGET_AFTER + 1
    assert throttle.wait_time("10.0.0.1", "bob") == 0


def test_memory_is_capped(clock, monkeypatch):
    monkeypatch.setattr(module, "MAX_ENTRIES", 50)
    throttle = LoginThrottle(clock)
    for number in range(200):
        throttle.failed(f"10.0.{number}.1", "alice")
    assert len(throttle._failures) == 50
