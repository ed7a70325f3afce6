"""The region widgets shared by the map pages: a named region, the map's current view, a custom box, or the
polygons of an uploaded vector file.

"Current view" never follows pans by itself (a pan must not recompute anything): the map reports its
bounds, and a button under it makes the area shown the region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import folium
import streamlit as st
from streamlit_folium import st_folium

from core.gis.region import PolygonRegion
from core.regions import REGIONS, BBox, bbox_from_view
from geovis import gis_widgets
from geovis.markdown_text import escape_markdown

CURRENT_VIEW = "Current view"
CUSTOM = "Custom box"
FROM_FILE = "Polygons from a file"
MAP_HEIGHT = 560
"""Height in pixels of a map whose region is picked here."""
#: The custom box's edges: (label, |limit|, default); the default box crosses the antimeridian.
BOX_EDGES = (("West", 180.0, 150.0), ("South", 90.0, -50.0), ("East", 180.0, -150.0), ("North", 90.0, 50.0))


@dataclass(frozen=True)
class RegionChoice:
    """The area chosen with the widgets named ``key`` (a box or polygons; None: the whole world), and whether
    it is the map's view."""

    key: str
    area: BBox | PolygonRegion | None
    follows_view: bool = False


def view_key(key: str) -> str:
    """Session key of the view chosen as region by the widgets named ``key``."""
    return f"{key}_view"


def pick_region(container, key: str) -> RegionChoice:
    """The region selectbox (in ``container``) and, for a custom box, its four edges under it; for polygons
    from a file, an uploader (the world is used until a usable file is uploaded).

    A custom box that cannot be used shows an error and stops the page.
    """
    name = container.selectbox(
        "Region", [*REGIONS, CURRENT_VIEW, CUSTOM, FROM_FILE], key=f"{key}_region",
        help="Current view: pan and zoom the map to an area, then press the button under the map. "
        "Polygons from a file: upload a GeoJSON, GeoPackage, zipped Shapefile, GeoParquet or KML.",
    )
    if name == FROM_FILE:
        region = gis_widgets.upload_region(key)
        if region is None:
            st.info("Upload a vector file of polygons; the world is shown until then.")
        else:
            st.caption(f"Region: {escape_markdown(region.describe())}")
        return RegionChoice(key, region)
    if name == CURRENT_VIEW:
        bbox = st.session_state.get(view_key(key))
        if bbox is None:
            st.info("Pan and zoom the map to the area you want, then press the button under it. The world is shown until then.")
        else:
            st.caption(f"Region: the map view {bbox.describe()}")
        return RegionChoice(key, bbox, follows_view=True)
    if name == CUSTOM:
        edges = [
            column.number_input(label, min_value=-limit, max_value=limit, value=value, step=5.0, key=f"{key}_{label.lower()}")
            for column, (label, limit, value) in zip(st.columns(4), BOX_EDGES)
        ]
        try:
            return RegionChoice(key, BBox(*edges))
        except ValueError as error:
            st.error(f"That box cannot be used: {error}. West > East means the box crosses ±180°.")
            st.stop()
    return RegionChoice(key, REGIONS[name])


def reported_view(map_state: Mapping | None) -> BBox | None:
    """The map view last reported by ``st_folium`` (its ``bounds``) as a box; None before it reported one."""
    try:
        south_west, north_east = map_state["bounds"]["_southWest"], map_state["bounds"]["_northEast"]
        return bbox_from_view(
            float(south_west["lng"]), float(south_west["lat"]), float(north_east["lng"]), float(north_east["lat"])
        )
    except (TypeError, KeyError, ValueError):
        return None


def region_map(
    folium_map: folium.Map, map_key: str, region: RegionChoice, view_label: str,
    feature_group_to_add: folium.FeatureGroup | None = None,
) -> None:
    """Draw ``folium_map`` (``st_folium`` state under ``map_key``), reporting clicks. While ``region``
    follows the view, the map also reports its bounds, and a button ``view_label`` under it makes the
    area shown the region, then reruns the whole page."""
    st_folium(
        folium_map, key=map_key, height=MAP_HEIGHT, use_container_width=True,
        returned_objects=["last_clicked", "bounds"] if region.follows_view else ["last_clicked"],
        feature_group_to_add=feature_group_to_add,
    )
    if not region.follows_view or not st.button(view_label, key=f"{region.key}_use_view", help="Make the area the map shows now the region"):
        return
    shown = reported_view(st.session_state.get(map_key))
    if shown is None:
        st.warning("The map has not reported its view yet: pan or zoom it, then press again.")
        return
    st.session_state[view_key(region.key)] = shown
    st.rerun(scope="app")
