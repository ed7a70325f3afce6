"""Embedding map: a location encoder's embeddings over H3 hexes, clustered or as colours; click for similar places."""

import streamlit as st

from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.data.base import GeoImageDataset
from core.gis.tables import embedding_layer
from core.location import ENCODINGS, geoclip_status
from core.workflows.starter import BUILD_COMMAND
from core.train.records import default_run_index
from geovis import app_state, encoder_files, gis_widgets, maps, region_picker
from geovis import embedding_layers as layers
from geovis.assets import MissingAssetsError
from geovis.markdown_text import escape_markdown

app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

st.title("Embedding map")
st.caption(
    "What a location encoder makes of the globe: the centre of every H3 hexagon in the region is embedded, "
    "then coloured by k-means cluster or by its first three principal components (PCA → RGB). "
    "Click a hexagon to see its cluster, the hexagons most like it and which classes the dataset has there."
)
dataset = app_state.require_active_dataset()

source_column, encoder_column, grid_column, colour_column = st.columns(4)
runs = layers.trained_runs()
sources = list(layers.SOURCE_LABELS)
source = source_column.radio(
    "Encoder source", sources, index=sources.index("run" if runs else "untrained"), format_func=layers.SOURCE_LABELS.get
)
if source == "run":
    if not runs:
        encoder_column.info("No trained run yet: pre-train or fine-tune one on the Pre-train page.")
        st.stop()
    run = encoder_column.selectbox(
        "Run", runs, index=default_run_index(runs, prefer_stage="pretrain"), format_func=lambda r: f"{r.name} · {r.stage}",
        help="Pre-training and fine-tuning runs; the last pre-training run finished is chosen first",
    )
    choice = encoders.EncoderChoice("run", str(run.run_dir))
elif source == "model":
    if (folder := encoder_files.pick_model_folder(encoder_column, "embedding_model_folder")) is None:
        st.stop()
    choice = encoders.EncoderChoice("model", folder)
elif source == "untrained":
    if not runs:
        encoder_column.caption(
            f"No trained run yet: `make app` builds the starter models (or run `{BUILD_COMMAND}` and reload), "
            "or train one on the Pre-train page."
        )
    names = list(ENCODINGS)
    encoding = encoder_column.selectbox("Encoding", names, index=names.index("theory"), help="built with default params")
    seed = int(encoder_column.number_input("Seed", min_value=0, value=0, step=1))
    choice = encoders.EncoderChoice("untrained", encoding, seed)
else:
    available, reason = geoclip_status()
    if not available:
        encoder_column.warning(f"GeoCLIP's pretrained encoder is not available here: {reason}")
        st.stop()
    choice = encoders.EncoderChoice("pretrained", "geoclip")
    encoder_column.caption("GeoCLIP's released location encoder (512-d).")

st.session_state.setdefault(layers.RESOLUTION_KEY, 2)
resolution = grid_column.select_slider(
    "H3 resolution", options=list(range(em.MAX_RESOLUTION + 1)), key=layers.RESOLUTION_KEY,
    help="2: 5 882 hexes over the world (~86 000 km² each); 3: 41 162 (slower)",
)
region = region_picker.pick_region(grid_column, layers.REGION_KEY)
method = colour_column.radio(
    "Colouring", ["kmeans", "pca"], format_func={"kmeans": "k-means clusters", "pca": "PCA → RGB"}.get, horizontal=True
)
k = colour_column.slider("Clusters k", min_value=2, max_value=20, value=8) if method == "kmeans" else 8
basemap = colour_column.selectbox("Basemap", maps.BASEMAPS, format_func=maps.BASEMAP_LABELS.get)
colouring = layers.Colouring(method, k)

try:
    embedded = layers.cached_embeddings(choice, resolution, region.area)
    view = layers.cached_view(choice, resolution, region.area, colouring)
except Exception as error:  # a bad run or encoder: a message, never a traceback
    st.error(f"The embeddings could not be computed: {escape_markdown(error)}")
    st.stop()
if not view.cells:
    st.warning("No hexagon centre falls in this region at this resolution: choose a larger region or a finer resolution.")
    st.stop()
hexes, dims = st.columns(2)
hexes.metric("Hexagons", f"{len(view.cells):,}")
dims.metric("Embedding size", embedded.embeddings.shape[1])
with st.expander("GIS: download the hexagons, or embed places from a file"):
    vector = st.radio(
        "Embedding vectors", ["none", "columns", "list"], horizontal=True, key="embedding_export_vector",
        format_func={"none": "leave out", "columns": "one column per dimension", "list": "a list column (GeoParquet; columns elsewhere)"}.get,
    )
    gis_widgets.download_buttons(
        lambda: embedding_layer(embedded.cells, embedded.embeddings, k, vector), "embedding_map", "embedding", len(view.cells)
    )
    places = gis_widgets.upload_places("embedding")
    if places is not None:
        try:
            place_table = layers.embedded_places(choice, embedded, view, resolution, *places, vector)
        except encoders.EncoderLoadError as error:
            st.error(f"The places could not be embedded: {escape_markdown(error)}")
        else:
            st.caption(f"{len(place_table):,} places embedded; cluster: that of the shown hexagon each lies in (-1: none)")
            gis_widgets.download_buttons(lambda: place_table, "embedded_places", "embedding_places", len(place_table))


@st.fragment
def explore(
    embedded: layers.Embedded, view: layers.EmbeddingView, dataset: GeoImageDataset,
    resolution: int, region: region_picker.RegionChoice, basemap: maps.Basemap,
) -> None:
    """The map and the clicked hex's details: a click (or, when the region follows the view, a pan)
    reruns only this part of the page."""
    map_column, details = st.columns([3, 2])
    cell = layers.clicked_cell(st.session_state.get(layers.MAP_KEY), resolution)
    index = embedded.index_of(cell) if cell else None
    count = details.slider("Similar hexes", min_value=1, max_value=min(100, len(view.cells)), value=min(12, len(view.cells)))
    similar, scores = em.most_similar(embedded.embeddings, index, count) if index is not None else (None, None)
    similar_cells = [view.cells[i] for i in similar] if similar is not None else []
    with map_column:
        try:
            folium_map = layers.embedding_folium_map(view, region.area, basemap)
        except MissingAssetsError as error:
            st.error(f"The map could not be drawn: {error}")
        else:
            region_picker.region_map(
                folium_map, layers.MAP_KEY, region, "Embed this view",
                feature_group_to_add=layers.selection_overlay(similar_cells, cell) if similar_cells else None,
            )
    with details:
        if cell is None:
            st.info("Click a hexagon to see its cluster and the hexagons most like it.")
            return
        if index is None:
            st.info("That click is outside the hexagons shown: click inside the region.")
            return
        st.subheader(f"Hex {cell}")
        if view.clusters is not None:
            cluster = int(view.clusters[index])
            st.metric("Cluster", f"{cluster} of {int(view.clusters.max()) + 1}")
            st.caption(f"{int((view.clusters == cluster).sum()):,} hexagons share this cluster.")
        else:
            color = view.colors[index]
            st.markdown(f"PCA colour <span style='background:{color}'>&emsp;&emsp;</span> `{color}`", unsafe_allow_html=True)
        st.dataframe(layers.similar_table(view, similar, scores), hide_index=True, height=220)
        sample_cells, labels = layers.dataset_cells(app_state.active_dataset_key(), resolution, dataset)
        counts = em.class_composition(similar_cells, sample_cells, labels, len(dataset.class_names))
        if counts.sum():
            st.plotly_chart(layers.composition_chart(counts, dataset.class_names), width="stretch")
        else:
            st.info(f"No sample of {escape_markdown(dataset.name)} falls in these {len(similar_cells)} hexagons.")


explore(embedded, view, dataset, resolution, region, basemap)
