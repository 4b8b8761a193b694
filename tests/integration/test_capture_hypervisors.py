"""Capture patterns name a hypervisor as rights rules do (``prod:*``, ``*:db-*``), on the
mock's two simulated hypervisors: mock2's ``mock-vm`` is a copy of default's (same name
and UUID), so only the hypervisor part of a pattern tells them apart."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from .helpers import config_file, run_refused_host, wait_for

TWIN = "mock-vm"  # on both hypervisors, with the same UUID


def session_on(host, hypervisor: str) -> dict | None:
    for session in host.sessions():
        if (session["hypervisor"], session["guest"]) == (hypervisor, TWIN):
            return session
    return None


def test_a_pattern_naming_a_hypervisor_captures_its_guest_not_the_twin(start_host, tmp_path):
    config = config_file(
        tmp_path, "serialconsole", capture_include=f"default:{TWIN}", capture_exclude="prdo:*"
    )
    host = start_host(
        "--mock-hypervisors", "2", "--capture", "all",
        "--state-dir", str(tmp_path / "state"), "--config", str(config),
    )  # fmt: skip
    captured = wait_for(lambda: session_on(host, "default"), 10.0, "default's mock-vm captured")
    assert captured["capture"] is True
    # An open captures first whatever the policy captures: mock2's twin is opened alone.
    opened = host.post(f"hypervisors/mock2/vms/{TWIN}/serial")
    assert opened.status_code == 201, opened.text
    twin = session_on(host, "mock2")
    assert twin is not None and twin["capture"] is False
    log = host.get(f"hypervisors/mock2/vms/{TWIN}/serial/log")
    assert log.status_code == 404, log.text  # never captured
    assert "capture_exclude: no hypervisor matches 'prdo'" in host.full_log()


@pytest.mark.parametrize(
    ("include", "message"),
    [
        (":mock-vm", "a hypervisor and a guest pattern around ':'"),
        ("'prod hv':mock-vm", "cannot match a hypervisor name"),
    ],
)
def test_a_malformed_hypervisor_part_is_refused_at_start(include, message):
    run_dir = Path(tempfile.mkdtemp(prefix="sc", dir="/tmp"))
    try:
        config = config_file(run_dir, "serialconsole", capture_include=include)
        result = run_refused_host(run_dir, "--capture", "all", "--config", str(config))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    assert result.returncode == 2, result.stderr
    assert "capture_include" in result.stderr and message in result.stderr
