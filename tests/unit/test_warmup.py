"""The zygote's warm-up: an optimisation that must never stop the zygote."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest

from plugin_serialconsole.console import warmup


def test_warm_up_goes_on_without_a_writable_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    warmup.warm_up()
    assert "capture log not warmed up" in caplog.text


def test_warm_up_leaves_no_thread_and_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(threading.enumerate())  # other tests' daemon threads may live on
    warmup.warm_up()
    assert set(threading.enumerate()) == before
    assert list(tmp_path.iterdir()) == []
