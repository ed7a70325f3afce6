"""Overview: what GeoCSP does, and the active dataset at a glance (size, classes, splits, map)."""

import streamlit as st
from streamlit_folium import st_folium

from geovis import charts, maps
from geovis.app_state import active_dataset

st.title("GeoCSP")
st.markdown(
    "Self-supervised **geospatial-visual representation learning** on geo-tagged images. "
    "GeoCSP implements *Contrastive Spatial Pre-training* (CSP, Mai et al. 2023) — a location encoder "
    "pre-trained to predict the image features seen at a place, then fine-tuned with few labels into a "
    "location prior — and *Geography-Aware SSL* (Ayush et al. 2021) — MoCo-v2 with temporal positives "
    "and a geo-location pretext task. Everything runs offline on an embedded dataset of real "
    "imagery and labels; bring fMoW, iNat2018 or your own photos when you like."
)

try:
    dataset = active_dataset()
except Exception as error:  # the user sees a message, never a traceback
    st.error(f"The embedded default dataset could not be loaded: {error}\n\nRun `make setup` and reload this page.")
    st.stop()

class_counts = dataset.class_counts()
splits = dataset.records["split"].tolist() if "split" in dataset.records else []
split_sizes = charts.split_sizes(splits)
st.header(f"Active dataset: {dataset.name}")
metrics = st.columns(2 + len(split_sizes))
metrics[0].metric("Places", f"{len(dataset):,}")
metrics[1].metric("Classes present", f"{sum(n > 0 for n in class_counts.values())} of {len(dataset.class_names)}")
for column, (split, count) in zip(metrics[2:], split_sizes.items()):
    column.metric(f"{split} split", f"{count:,}")
if manifest := getattr(dataset, "manifest", None):
    st.caption(
        f"Seed {manifest.get('config', {}).get('seed', '?')} · views: {', '.join(manifest.get('views', []))} · "
        "imagery NASA Blue Marble / shaded relief / ETOPO1, labels MODIS MCD12C1 IGBP land cover; "
        "splits are spatially blocked."
    )

controls, view = st.columns([1, 4])
basemap = controls.radio(
    "Basemap",
    maps.BASEMAPS,
    format_func={"bluemarble": "Blue Marble (offline)", "outlines": "Outlines (offline)", "osm": "OpenStreetMap (online)"}.get,
)
color_by = controls.radio("Hexagon colour", ("class", "count"), format_func={"class": "dominant class", "count": "sample count"}.get)
controls.caption("Hover a hexagon for its counts. Colours match the class chart below.")
located = dataset.has_location
try:
    sample_map = maps.base_map(basemap=basemap)
    maps.add_samples(sample_map, dataset.lonlat[located], dataset.labels[located], dataset.class_names, color_by=color_by)
except Exception as error:
    view.error(f"The map could not be drawn: {error}")
else:
    with view:
        st_folium(sample_map, key="overview_map", height=480, use_container_width=True, returned_objects=[])

left, right = st.columns(2)
left.plotly_chart(
    charts.class_histogram(list(class_counts), list(class_counts.values()), title="Places per class"), width="stretch"
)
if splits:
    by_split = charts.counts_by_split(dataset.labels, splits, len(dataset.class_names))
    right.plotly_chart(charts.split_breakdown(dataset.class_names, by_split), width="stretch")
