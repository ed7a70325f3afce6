"""Instant map clicks: a deterministic handler on the map, using what the installed st_folium frontend defines."""

from pathlib import Path

import pytest
import streamlit_folium

from geovis import maps

pytestmark = pytest.mark.usefixtures("built_assets")


def test_a_map_with_instant_clicks_sends_each_click_and_renders_the_same_html_each_run():
    html = maps.base_map(instant_clicks=True).get_root().render()
    assert "setComponentValue(value)" in html and "previous_data = value" in html
    assert "setComponentValue" not in maps.base_map().get_root().render()
    # st_folium re-creates the map when its script changes: a click must not change it.
    assert html == maps.base_map(instant_clicks=True).get_root().render()
    assert "setComponentValue(value)" in streamlit_folium.generate_leaflet_string(maps.base_map(instant_clicks=True))


def test_the_installed_st_folium_frontend_defines_what_the_handler_uses():
    bundle = "".join(path.read_text() for path in (Path(streamlit_folium.__file__).parent / "frontend" / "build").rglob("*.js"))
    for name in ("window.Streamlit=", "__GLOBAL_DATA__", "previous_data", "returned_objects", "lat_lng_clicked"):
        assert name in bundle, f"st_folium's frontend no longer has {name}: update geovis/map_clicks.py"
