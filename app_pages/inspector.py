"""Encoder inspector: a location encoder's similarity kernel around a clicked point, its effective resolution,
and its embedding dimensions or principal components on the globe; two encoders side by side."""

import streamlit as st
from streamlit_folium import st_folium

from core.workflows import encoder_inspector as ei
from core.coords import CoordinateError
from geovis import app_state, browse, map_clicks, maps, prediction
from geovis import inspector_charts as charts
from geovis import inspector_state as state
from geovis.assets import MissingAssetsError
from geovis.markdown_text import escape_markdown

app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

st.title("Encoder inspector")
st.caption(
    "See what a location encoder can tell apart. Click the map (or type coordinates): the **similarity kernel** "
    "cos(e(x₀), e(x)) is drawn over the globe and zoomed in around the point (the black line is cos = ½), and the "
    "**effective resolution** — the distance at which the similarity falls to ½ — is measured along a meridian and at the point. "
    "Below, individual embedding dimensions or principal components on the globe."
)

compare = st.toggle("Compare two encoders side by side", key="inspector_compare")
picker_columns = st.columns(2) if compare else [st.container()]
choices = [
    state.pick_encoder(column, key, title)
    for column, key, title in zip(picker_columns, ("inspector_a", "inspector_b"), ("Encoder A", "Encoder B"))
]
if None in choices:
    st.stop()

grid_column, zoom_column, meridian_column = st.columns(3)
resolution = grid_column.select_slider(
    "Globe grid (H3 resolution)", options=list(state.RASTER_STEPS), value=2, key="inspector_resolution",
    help="2: 5 882 cells, about 2.5° apart; 3: 41 162 cells, about 1° apart (slower the first time)",
)
radius_km = zoom_column.select_slider(
    "Zoom radius (km)", options=[25, 50, 100, 250, 500, 1000, 2500, 5000], value=1000, key="inspector_radius",
)
meridian = meridian_column.slider(
    "Resolution profile along the meridian at (° longitude)", min_value=-180, max_value=175, value=0, step=5,
    key="inspector_meridian", help="The profile is computed once per encoder and meridian; clicks do not recompute it.",
)
with st.form("inspector_typed_point", border=False):
    lat_column, lon_column, submit_column = st.columns([2, 2, 3], vertical_alignment="bottom")
    typed_lat = lat_column.number_input("Latitude", value=48.85, format="%.4f", key="inspector_lat")
    typed_lon = lon_column.number_input("Longitude", value=2.35, format="%.4f", key="inspector_lon")
    if submit_column.form_submit_button("Inspect these coordinates"):
        try:
            state.inspected_point().lonlat = ei.check_point(typed_lon, typed_lat)
        except CoordinateError as error:
            st.error(f"Those coordinates cannot be inspected: {escape_markdown(error)}")

try:
    worlds = [state.cached_world(choice, resolution) for choice in choices]
except Exception as error:  # a damaged run or a bad parameter: a message, never a traceback
    st.error(f"The encoder could not be inspected: {escape_markdown(error)}")
    st.stop()
raster = state.world_raster(resolution)


@st.fragment
def kernels(choices: list[ei.InspectedEncoder], worlds: list, raster: ei.WorldRaster, radius_km: float, meridian: float) -> None:
    """The map, and the kernels and resolution at its point: a click reruns only this part of the page."""
    point = state.inspected_point()
    point.follow_click(browse.clicked_lonlat(st.session_state.get(state.MAP_KEY)))
    try:
        world = maps.base_map(instant_clicks=True)
    except MissingAssetsError as error:
        st.error(f"The map could not be drawn: {error}")
    else:
        st_folium(
            world, key=state.MAP_KEY, height=360, use_container_width=True, returned_objects=map_clicks.RETURNED_OBJECTS,
            render=False, feature_group_to_add=prediction.pins([("x₀", point.lonlat)]) if point.lonlat else None,
        )
    if point.lonlat is None:
        st.info("Click the map, or type coordinates above, to see the kernel around that point.")
        return
    lon, lat = point.lonlat
    st.caption(f"x₀ at latitude {lat:.4f}, longitude {lon:.4f}.")
    at_point = {}
    for index, (choice, world_embeddings, column) in enumerate(zip(choices, worlds, st.columns(len(choices)))):
        try:
            center = state.center_embedding(choice, point.lonlat)
            grid, local = ei.local_kernel(state.cached_encoder(choice), point.lonlat, radius_km)
            here = ei.point_resolution(state.cached_encoder(choice), point.lonlat)
        except Exception as error:  # an encoder that fails on this point: a message, never a traceback
            column.error(f"{escape_markdown(choice.label)} could not be evaluated here: {escape_markdown(error)}")
            continue
        at_point[choice.label] = here
        with column:
            st.subheader(escape_markdown(choice.label))
            for metric_column, (direction, km) in zip(st.columns(len(here)), here.items()):
                metric_column.metric(f"½-similarity distance {direction}", state.distance_text(km))
            # One encoder: its two maps side by side; two encoders: each one's maps stacked in its column.
            globe_column, local_column = st.columns([3, 2]) if len(choices) == 1 else (column, column)
            globe_column.plotly_chart(
                charts.globe_figure(raster, ei.kernel(world_embeddings, center), "Kernel cos(e(x₀), e(x)) over the globe", point.lonlat),
                key=f"inspector_globe_{index}",
            )
            local_column.plotly_chart(
                charts.local_figure(grid, local, f"Kernel within {radius_km:,} km of x₀"), key=f"inspector_local_{index}",
            )
    try:
        profiles = {choice.label: state.cached_profile(choice, meridian) for choice in choices}
    except Exception as error:  # as above
        st.error(f"The effective resolution could not be measured: {escape_markdown(error)}")
        return
    st.plotly_chart(charts.resolution_figure(profiles, at_point, lat), key="inspector_resolution_chart")


kernels(choices, worlds, raster, radius_km, float(meridian))

st.subheader("Basis functions and principal components")
mode_column, index_column = st.columns(2)
mode = mode_column.radio("Show", ["component", "dimension"], horizontal=True, key="inspector_basis_mode",
                         format_func={"component": "Principal component", "dimension": "Embedding dimension"}.get)
if mode == "component":
    number = int(index_column.number_input("Component", min_value=1, max_value=state.COMPONENTS, value=1, step=1, key="inspector_component"))
else:
    widest = max(world.shape[1] for world in worlds)
    number = int(index_column.number_input("Dimension", min_value=0, max_value=widest - 1, value=0, step=1, key="inspector_dimension"))
for index, (choice, world_embeddings, column) in enumerate(zip(choices, worlds, st.columns(len(choices)))):
    values, title = state.basis_map(choice, world_embeddings, resolution, mode, number)
    if values is None:
        column.info(escape_markdown(title))
    else:
        column.plotly_chart(charts.globe_figure(raster, values, title, value_name="value"), key=f"inspector_basis_{index}")
