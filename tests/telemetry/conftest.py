"""Fixtures shared by the telemetry tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty HOME, and none of the developer's Rudel credentials or endpoints."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("RUDEL_API_KEY", "RUDEL_API_BASE", "OPALINE_API_BASE", "RUDEL_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    return home
