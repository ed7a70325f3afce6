"""Shared fixtures for dataset tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root (GEOCSP_DATA_ROOT points at it) inside the test's temporary folder."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(root))
    return root
