"""Compare: two to four locations' predicted class distributions, and where a class is likely over H3 hexagons."""

import streamlit as st
from streamlit_folium import st_folium

from core.gis.tables import predicted_class_layer, predicted_places_layer
from geovis import app_state, browse, gis_widgets, maps, prediction, predictor_state
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

with st.expander("Places from a file: P(y | x) at every point of a GeoJSON, GeoPackage, Shapefile, GeoParquet, KML or CSV"):
    places = gis_widgets.upload_places("compare")
    if places is not None:
        place_table = predicted_places_layer(predictor, places[1], places[0])
        labels = gis_widgets.place_labels(places[1])
        shown = min(len(labels), prediction.MAX_COMPARED_PLACES)
        st.caption(f"{len(labels):,} places; the chart compares the first {shown}.")
        probs = predictor.location_probs(places[0][:shown]).numpy()
        st.plotly_chart(prediction.grouped_distribution_figure(labels[:shown], probs, predictor.class_names, 3), key="compare_file_chart")
        st.dataframe(place_table.drop(columns=place_table.geometry.name), hide_index=True, height=220)
        gis_widgets.download_buttons(lambda: place_table, "place_predictions", "compare_places", len(place_table))

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
with st.expander("Download P(class | x) over these hexagons as a GIS layer"):
    export_classes = st.multiselect(
        "Classes (one column each; argmax and entropy are over all classes)", range(len(predictor.class_names)),
        default=[class_index], format_func=lambda c: predictor.class_names[c], key="compare_export_classes",
    )
    gis_widgets.download_buttons(
        lambda: predicted_class_layer(predictor, cells, export_classes), "class_probabilities", "compare_hexes", len(cells)
    )

st.header("Zonal summary")
st.caption(
    "Upload polygons (districts, ecoregions, field boundaries…): for each, the mean P(y | x) over the H3 hexagons whose "
    "centre lies in it, and the dominant k-means cluster of the location model's embeddings of those hexagons."
)
zones = gis_widgets.upload_zones("compare")
if zones is not None:
    zone_resolution_col, zone_k_col = st.columns(2)
    zone_resolution = zone_resolution_col.radio("H3 resolution of the summary", [1, 2, 3], index=1, horizontal=True, key="compare_zone_resolution")
    zone_k = zone_k_col.slider("Clusters k", 2, 20, 8, key="compare_zone_k")
    try:
        summary = gis_widgets.zonal_summary(zones, str(location_run.run_dir), zone_resolution, zone_k, predictor)
    except ValueError as error:  # no hexagon centre in the zones, or a run whose encoder cannot be read
        st.warning(f"No summary: {escape_markdown(error)}")
    else:
        st.dataframe(summary.drop(columns=summary.geometry.name), hide_index=True)
        gis_widgets.download_buttons(lambda: summary, "zonal_summary", "compare_zonal", len(summary))
