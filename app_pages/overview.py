"""Overview: what GeoCSP does, and the active dataset at a glance (size, classes, splits, map)."""

import streamlit as st
from streamlit_folium import st_folium

from core.data.errors import DatasetError
from core.data.loaders import DATASET_FORMATS
from core.data.paths import data_root
from core.train.records import compare_runs, list_runs
from geovis import app_state, charts, maps
from geovis.markdown_text import escape_markdown

#: Columns of the trained-models table (from :func:`core.train.records.compare_runs`) and their headings.
MODEL_COLUMNS = {
    "stage": "stage", "status": "status", "dataset": "dataset", "image features": "image features", "encoding": "encoding",
    "test_top1": "test top-1", "test_retrieval_top1": "test retrieval top-1", "wall_seconds": "seconds",
}


def _option_input(fmt: str, name: str, default: str | None) -> str:
    """A loader option's widget: a choice among its allowed values, else a text field."""
    label, key = name.replace("_", " ").capitalize(), f"option_{fmt}_{name}"
    choices = DATASET_FORMATS[fmt].option_choices.get(name)
    if choices:
        return st.selectbox(label, choices, index=choices.index(default) if default in choices else 0, key=key)
    return st.text_input(label, value=default or "", key=key)


app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

st.title("GeoCSP")
st.markdown(
    "Self-supervised **geospatial-visual representation learning** on geo-tagged images. "
    "GeoCSP implements *Contrastive Spatial Pre-training* (CSP, Mai et al. 2023) — a location encoder "
    "pre-trained to predict the image features seen at a place, then fine-tuned with few labels into a "
    "location prior — and *Geography-Aware SSL* (Ayush et al. 2021) — MoCo-v2 with temporal positives "
    "and a geo-location pretext task. Everything runs offline on an embedded dataset of real "
    "imagery and labels; bring fMoW, iNat2018 or your own photos when you like."
)

with st.expander("Use your own dataset", expanded=app_state.user_dataset() is not None):
    fmt = st.selectbox("Format", list(DATASET_FORMATS), format_func=lambda key: DATASET_FORMATS[key].description)
    path = st.text_input("Path", placeholder="e.g. photos/holiday", help=f"Relative to the data folder {data_root()}")
    options = {name: _option_input(fmt, name, default) for name, default in DATASET_FORMATS[fmt].options.items()}
    load, back = st.columns(2)
    if load.button("Load dataset", type="primary"):
        try:
            with st.spinner("Loading the dataset…"):
                app_state.register_dataset(fmt, path, **{name: value for name, value in options.items() if value})
        except DatasetError as error:
            st.error(f"The dataset was not loaded: {escape_markdown(error)}")
    if app_state.user_dataset() is not None:
        back.button("Back to the embedded default dataset", on_click=app_state.use_default_dataset)

dataset = app_state.require_active_dataset()

class_counts = dataset.class_counts()
splits = dataset.records["split"].tolist() if "split" in dataset.records else []
split_sizes = charts.split_sizes(splits)
st.header(f"Active dataset: {escape_markdown(dataset.name)}")
metrics = st.columns(2 + len(split_sizes))
metrics[0].metric("Places", f"{len(dataset):,}")
metrics[1].metric("Classes present", f"{sum(n > 0 for n in class_counts.values())} of {len(dataset.class_names)}")
for column, (split, count) in zip(metrics[2:], split_sizes.items()):
    column.metric(f"{split} split", f"{count:,}")
if registered := app_state.user_dataset():
    by = f", registered by {escape_markdown(registered.registered_by)}" if registered.registered_by else ""
    st.caption(f"Loaded as {registered.fmt} from “{escape_markdown(registered.path)}” under the data folder{by}.")
if dataset.problems:
    count = len(dataset.problems)
    with st.expander(f"{count:,} problem{'s' * (count != 1)} noted while loading (records left out, times unknown, …)"):
        st.text("\n".join(dataset.problems))
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
    format_func=maps.BASEMAP_LABELS.get,
)
color_by = controls.radio("Hexagon colour", ("class", "count"), format_func={"class": "dominant class", "count": "sample count"}.get)
controls.caption("Hover a hexagon for its counts. Colours match the class chart below.")
located = dataset.has_location
try:
    sample_map = maps.base_map(basemap=basemap)
    if located.sum() > maps.MAX_SAMPLE_MARKERS:
        hexagons = app_state.dataset_hexagons(app_state.active_dataset_key(), color_by, dataset)
        maps.add_hexagons(sample_map, *hexagons)
    else:
        maps.add_samples(sample_map, dataset.lonlat[located], dataset.labels[located], dataset.class_names, color_by=color_by)
except Exception as error:
    view.error(f"The map could not be drawn: {escape_markdown(error)}")
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

st.header("Trained models")
if trained := list_runs():
    table = compare_runs(trained)
    shown = [column for column in MODEL_COLUMNS if column in table]
    st.dataframe(table[shown].rename(columns=MODEL_COLUMNS), width="stretch")
    st.caption("Fine-tuned location models and image classifiers predict on Predict and Compare; every location encoder shows on the Embedding map.")
else:
    st.info("No trained model yet: pre-train or fine-tune one on the Pre-train page (a default run takes about a minute).")

app_state.warm_up()  # the page is out: torch and the models, for the next pages
