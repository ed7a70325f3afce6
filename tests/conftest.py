"""Shared fixtures: single-threaded torch, the locally served browser assets and a fresh data root."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from geovis import assets


@pytest.fixture(scope="session", autouse=True)
def single_torch_thread() -> Iterator[None]:
    """Tests use small batches: one intra-op thread avoids spin-waiting when the app server runs beside them."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def built_assets() -> None:
    """Leaflet, Natural Earth GeoJSON and the Blue Marble basemap under static/vendor (what setup builds)."""
    assets.build_assets()


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root (GEOCSP_DATA_ROOT points at it) inside the test's temporary folder."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(root))
    return root
