"""The region widgets shared by the map pages: a named region, the map's current view, or a custom box.

"Current view" never follows pans by itself (a pan must not recompute anything): the map reports its
bounds, and a button under it makes the area shown the region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

from core.regions import REGIONS, BBox, bbox_from_view

CURRENT_VIEW = "Current view"
CUSTOM = "Custom box"
#: The custom box's edges: (label, |limit|, default); the default box crosses the antimeridian.
BOX_EDGES = (("West", 180.0, 150.0), ("South", 90.0, -50.0), ("East", 180.0, -150.0), ("North", 90.0, 50.0))


@dataclass(frozen=True)
class RegionChoice:
    """The chosen box (None: the whole world) and whether the map should report its view for it."""

    bbox: BBox | None
    follows_view: bool = False

    @property
    def returned_objects(self) -> list[str]:
        """What ``st_folium`` should report back: clicks, plus the bounds while the region follows the view."""
        return ["last_clicked", "bounds"] if self.follows_view else ["last_clicked"]


def view_key(key: str) -> str:
    """Session key of the view chosen as region by the widgets named ``key``."""
    return f"{key}_view"


def pick_region(container, key: str) -> RegionChoice:
    """The region selectbox (in ``container``) and, for a custom box, its four edges under it.

    A custom box that cannot be used shows an error and stops the page.
    """
    name = container.selectbox(
        "Region", [*REGIONS, CURRENT_VIEW, CUSTOM], key=f"{key}_region",
        help="Current view: pan and zoom the map to an area, then press the button under the map.",
    )
    if name == CURRENT_VIEW:
        bbox = st.session_state.get(view_key(key))
        if bbox is None:
            st.info("Pan and zoom the map to the area you want, then press the button under it. The world is shown until then.")
        else:
            st.caption(f"Region: the map view {bbox.describe()}")
        return RegionChoice(bbox, follows_view=True)
    if name == CUSTOM:
        edges = [
            column.number_input(label, min_value=-limit, max_value=limit, value=value, step=5.0, key=f"{key}_{label.lower()}")
            for column, (label, limit, value) in zip(st.columns(4), BOX_EDGES)
        ]
        try:
            return RegionChoice(BBox(*edges))
        except ValueError as error:
            st.error(f"That box cannot be used: {error}. West > East means the box crosses ±180°.")
            st.stop()
    return RegionChoice(REGIONS[name])


def reported_view(map_state: Mapping | None) -> BBox | None:
    """The map view last reported by ``st_folium`` (its ``bounds``) as a box; None before it reported one."""
    try:
        south_west, north_east = map_state["bounds"]["_southWest"], map_state["bounds"]["_northEast"]
        return bbox_from_view(
            float(south_west["lng"]), float(south_west["lat"]), float(north_east["lng"]), float(north_east["lat"])
        )
    except (TypeError, KeyError, ValueError):
        return None


def use_view_button(label: str, map_key: str, key: str) -> None:
    """A button (under a map whose state is ``st.session_state[map_key]``) that makes the area the map
    shows the region of the widgets named ``key``, then reruns the whole page."""
    if not st.button(label, key=f"{key}_use_view", help="Make the area the map shows now the region"):
        return
    shown = reported_view(st.session_state.get(map_key))
    if shown is None:
        st.warning("The map has not reported its view yet: pan or zoom it, then press again.")
        return
    st.session_state[view_key(key)] = shown
    st.rerun(scope="app")
