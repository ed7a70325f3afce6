"""Shared fixtures: the locally served browser assets (built once per session, idempotent)."""

import pytest

from geovis import assets


@pytest.fixture(scope="session")
def built_assets() -> None:
    """Leaflet, Natural Earth GeoJSON and the Blue Marble basemap under static/vendor (what setup builds)."""
    assets.build_assets()
