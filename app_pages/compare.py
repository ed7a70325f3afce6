"""Compare: two to four locations' predicted class distributions, and where a class is likely over H3 hexagons."""

import streamlit as st
from streamlit_folium import st_folium

from geovis import app_state, browse, maps, prediction, predictor_state
from geovis.assets import MissingAssetsError
from geovis.markdown_text import escape_markdown

app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

MAP_KEY = "compare_map"
CLICKS = "compare_clicks"
TARGET = "compare_click_target"
LAST_CLICK = "compare_last_click"

st.title("Compare")
st.markdown(
    "Pick two to four places — type coordinates, name a city (looked up offline in GeoNames) or click the "
    "map — and compare what the location model predicts there, **P(y | x)**. The map below colours every "
    "H3 hexagon of the world by **P(class | x)** for the class you choose."
)

runs = predictor_state.pick_runs("compare", with_image=False)
if runs is None:
    st.info(f"{predictor_state.no_model_message()}, or start the quick pipeline on **Predict**.")
    st.stop()
location_run = runs[0]
predictor = predictor_state.load_predictor(location_run, None)

# A new map click places the location chosen as the click target (its radio is drawn further down).
clicks: dict[int, tuple[float, float]] = st.session_state.setdefault(CLICKS, {})
click = browse.clicked_lonlat(st.session_state.get(MAP_KEY))
if click is not None and click != st.session_state.get(LAST_CLICK):
    st.session_state[LAST_CLICK] = click
    if (target := st.session_state.get(TARGET)) is not None:
        clicks[target] = click

count = st.radio("Number of locations", [2, 3, 4], horizontal=True, key="compare_count")
located = []
for slot, column in enumerate(st.columns(count)):
    with column, st.container(border=True):
        located.append(predictor_state.location_input(slot, clicks))
chosen = [entry for entry in located if entry is not None]

if len(chosen) >= 2:
    labels = [label for label, _ in chosen]
    probs = predictor.location_probs([(point.lon, point.lat) for _, point in chosen]).numpy()
    k = st.slider("Top classes per location", 1, len(predictor.class_names), min(5, len(predictor.class_names)), key="compare_k")
    st.plotly_chart(prediction.grouped_distribution_figure(labels, probs, predictor.class_names, k), key="compare_chart")
else:
    st.info("Set at least two valid locations to compare their predictions.")

st.header("Where is a class likely?")
class_col, resolution_col, target_col, basemap_col = st.columns(4)
class_index = class_col.selectbox(
    "Class", range(len(predictor.class_names)), format_func=lambda c: predictor.class_names[c], key="compare_class"
)
resolution = resolution_col.radio("H3 resolution", [1, 2], horizontal=True, key="compare_resolution", help="1: 842 hexagons, 2: 5 882")
map_slots = [slot for slot in range(count) if st.session_state.get(f"compare_source_{slot}") == "Map click"]
if map_slots:
    target_col.radio("A map click places", map_slots, format_func=lambda s: f"Location {s + 1}", key=TARGET)
else:
    target_col.caption("Choose “Map click” as a location's source to place it by clicking the map.")
basemap = basemap_col.selectbox("Basemap", maps.BASEMAPS, index=1, format_func=maps.BASEMAP_LABELS.get, key="compare_basemap")

cells, colors, tooltips, top = predictor_state.class_hexagons(str(location_run.run_dir), class_index, resolution, predictor)
try:
    world = maps.base_map(basemap=basemap)
except MissingAssetsError as error:
    st.error(f"The map could not be drawn: {error}")
    st.stop()
maps.add_hexagons(world, cells, colors, tooltips)
st.caption(f"Colour: P({escape_markdown(predictor.class_names[class_index])} | x) at each hexagon's centre, viridis from 0 (purple) to {top:.2f} (yellow).")
st_folium(
    world, key=MAP_KEY, height=520, use_container_width=True, returned_objects=["last_clicked"],
    feature_group_to_add=prediction.pins([(label, (point.lon, point.lat)) for label, point in chosen]) if chosen else None,
)
