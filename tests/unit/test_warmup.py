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
    warmup.warm_up()
    assert threading.enumerate() == [threading.main_thread()]
    assert list(tmp_path.iterdir()) == []
