"""Browse: the active dataset's samples on a map, filtered by class, split, date and region; click for a sample."""

import pandas as pd
import streamlit as st

from core.data.base import GeoImageDataset
from core.gis.tables import samples_layer
from geovis import app_state, browse, gis_widgets, maps, region_picker, sample_geolocation
from geovis.assets import MissingAssetsError
from geovis.markdown_text import escape_markdown

app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

MAP_KEY = "browse_map"
REGION_KEY = "browse"

st.title("Browse")
dataset = app_state.require_active_dataset()
st.caption(
    f"**{escape_markdown(dataset.name)}** · {len(dataset):,} records. Many samples are grouped into H3 hexagons (hover for counts); "
    f"up to {browse.MAX_MARKERS:,} in view are drawn one by one — pick a region, or zoom the map and use its current view. "
    "Click the map to see the nearest sample."
)

classes, splits, dates, place = st.columns(4)
chosen_classes = classes.multiselect(
    "Classes", browse.class_options(dataset), format_func=lambda k: browse.class_name(dataset, k),
    placeholder="All classes",
)
split_names = browse.split_options(dataset)
chosen_splits = splits.multiselect("Splits", split_names, placeholder="All splits") if split_names else []
bounds = browse.date_bounds(dataset)
chosen_dates = (
    dates.slider("Dates", min_value=bounds[0], max_value=bounds[1], value=bounds)
    if bounds is not None and bounds[0] < bounds[1]
    else bounds
)
region = region_picker.pick_region(place, REGION_KEY)
basemap = place.selectbox("Basemap", maps.BASEMAPS, format_func=maps.BASEMAP_LABELS.get)

filters = browse.Filters(
    classes=tuple(chosen_classes),
    splits=tuple(chosen_splits),
    dates=None if chosen_dates == bounds else chosen_dates,
    region=region.area,
)
layer = browse.cached_sample_layer(app_state.active_dataset_key(), filters, dataset)
shown, drawn = st.columns(2)
shown.metric("Shown samples", f"{len(layer.indices):,}")
drawn.metric("Drawn as", layer.kind)
with st.expander("Download the shown samples as a GIS layer"):
    gis_widgets.download_buttons(lambda: samples_layer(dataset, layer.indices), "samples", "browse", len(layer.indices))


@st.fragment
def explore(dataset: GeoImageDataset, layer: browse.SampleLayer, region: region_picker.RegionChoice, basemap: maps.Basemap) -> None:
    """The map and the selected sample's details: a click reruns only this part of the page."""
    map_column, details = st.columns([3, 2])
    click = browse.clicked_lonlat(st.session_state.get(MAP_KEY))
    selected = browse.nearest_sample(dataset, layer.indices, click) if click and len(layer.indices) else None
    with map_column:
        try:
            sample_map = browse.sample_map(layer, region.area, basemap)
        except MissingAssetsError as error:
            st.error(f"The map could not be drawn: {error}")
        else:
            region_picker.region_map(
                sample_map, MAP_KEY, region, "Show this view",
                feature_group_to_add=browse.selection_marker(tuple(dataset.lonlat[selected[0]])) if selected else None,
            )
    with details:
        if selected is None:
            st.info("Click the map to see the nearest shown sample: all its images and its metadata.")
            return
        index, distance_km = selected
        metadata = browse.sample_metadata(dataset, index)
        st.subheader(f"{escape_markdown(metadata['Class'])} · record {index}")
        st.caption(f"{distance_km:,.1f} km from the click")
        try:
            views = browse.sample_views(dataset, index)
        except (ValueError, OSError) as error:
            st.warning(f"The images of this sample could not be shown: {escape_markdown(error)}")
        else:
            columns = st.columns(min(len(views), 3))
            for position, (caption, image) in enumerate(views):
                columns[position % len(columns)].image(image, caption=caption)
        st.table(pd.DataFrame({"value": metadata}))
    sample_geolocation.toggle_section(dataset, index)


explore(dataset, layer, region, basemap)
