"""Probe: how much a frozen location embedding knows about the world — linear probes under spatially blocked CV."""

import streamlit as st
from streamlit_folium import st_folium

from core.gis.tables import probe_residuals_layer
from core.probes import EMBEDDED_TASKS, EmbeddingError, ProbeTaskError, parse_embedding, read_task_csv, run_probes
from core.probes.tasks import KINDS
from geovis import app_state, gis_widgets, maps
from geovis import probe_view as view
from geovis.assets import MissingAssetsError
from geovis.markdown_text import escape_markdown
from geovis.uploads import limited_file_uploader

app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

st.title("Probe")
st.caption(
    "Freeze a location embedding, fit a linear probe (ridge for numbers, logistic regression for classes) on "
    "downstream tasks it never saw, and score it on regions held out whole (H3 cells as folds). The grey bar is "
    "a k-nearest-neighbour interpolation of the target itself: what plain spatial smoothing reaches."
)

task_column, embedding_column, settings_column = st.columns([2, 3, 1])
names = task_column.multiselect(
    "Embedded tasks", list(EMBEDDED_TASKS), default=list(EMBEDDED_TASKS),
    format_func=lambda name: f"{name} ({EMBEDDED_TASKS[name].kind})", key="probe_tasks",
    help="\n".join(f"- **{spec.name}**: {spec.description}" for spec in EMBEDDED_TASKS.values()),
)
upload = limited_file_uploader(task_column, "Your own task (CSV: lon, lat, target)", type=["csv", "tsv", "txt"],
                               key="probe_upload", limit_mb=st.get_option("server.maxUploadSize"))
kind = task_column.selectbox("Its kind", [None, *KINDS], format_func=lambda k: "inferred" if k is None else k, key="probe_kind")

options, selected = view.embedding_options()
chosen = embedding_column.multiselect("Embeddings", options, default=selected, format_func=view.embedding_label, key="probe_embeddings")
extra = embedding_column.text_input(
    "Another embedding", key="probe_extra", placeholder="e.g. encoding:spherical_harmonics:degree=20 or run:runs/<folder>:concat",
    help="lonlat, xyz, geoclip, encoding:NAME[:k=v,…], untrained:NAME, untrained:run:PATH, run:PATH[:embedding|output|penultimate|encoding|concat], model:PATH[:LAYER] (an exported model folder)",
)
n_points = settings_column.select_slider("Points per task", [500, 1000, 1500, 2000, 3000], value=1500, key="probe_points")
n_folds = settings_column.number_input("Folds", min_value=3, max_value=10, value=5, key="probe_folds")
knn = settings_column.checkbox("k-NN reference", value=True, key="probe_knn")

tasks = []
try:
    if upload is not None:
        tasks.append(read_task_csv(upload.getvalue(), name=upload.name, kind=kind))
    embeddings = [parse_embedding(name) for name in [*chosen, *([extra] if extra.strip() else [])]]
except (ProbeTaskError, EmbeddingError) as error:
    st.error(escape_markdown(error))
    st.stop()

if st.button("Run probes", type="primary", key="probe_run", disabled=not (names or upload) or not (embeddings or knn)):
    bar = st.progress(0.0, text="Loading the tasks…")
    try:
        tasks = [view.cached_task(name, n_points, 0) for name in names] + tasks
        report = run_probes(
            embeddings, tasks, n_folds=int(n_folds), knn=knn, embed_fn=view.cached_embed, score_fn=view.cached_cross_validate,
            progress=lambda fraction, message: bar.progress(fraction, text=escape_markdown(message)),
        )
    except (ValueError, OSError, RuntimeError) as error:  # a bad run, task or embedding: a message, not a traceback
        bar.empty()
        st.error(f"The probes could not run: {escape_markdown(error)}")
        st.stop()
    bar.empty()
    st.session_state[view.REPORT_KEY] = report

report = st.session_state.get(view.REPORT_KEY)
if report is None:
    st.info("Choose tasks and embeddings, then **Run probes** (about two minutes for the defaults on 2 cores: each linear probe chooses its penalty by an inner blocked CV).")
    st.stop()

st.subheader("Probe table")
st.caption(escape_markdown(report.to_markdown().splitlines()[0]))
st.dataframe(report.table(), width="stretch")
markdown_column, csv_column = st.columns(2)
markdown_column.download_button("Download Markdown", report.to_markdown(), "probes.md", "text/markdown")
csv_column.download_button("Download CSV", report.long_table().to_csv(index=False), "probes.csv", "text/csv")

chart_columns = st.columns(2)
for index, task in enumerate(report.tasks):
    chart_columns[index % 2].plotly_chart(view.bar_chart(report, task), width="stretch", key=f"probe_chart_{task}")

st.subheader("Out-of-fold residuals")
task_pick, embedding_pick, basemap_pick = st.columns(3)
task = task_pick.selectbox("Task", list(report.tasks), key="probe_map_task")
labels = [result.embedding for result in report.results if result.task == task]
embedding = embedding_pick.selectbox("Embedding", labels, format_func=view.embedding_label, key="probe_map_embedding")
basemap = basemap_pick.selectbox("Basemap", maps.BASEMAPS, format_func=maps.BASEMAP_LABELS.get, key="probe_basemap")
st.caption(view.residual_caption(report, task))
try:
    folium_map = view.residual_map(report, task, embedding, basemap)
except MissingAssetsError as error:
    st.error(f"The map could not be drawn: {escape_markdown(error)}")
else:
    st_folium(folium_map, key=view.MAP_KEY, height=480, use_container_width=True, returned_objects=[])
st.caption("Download the task's points with the target and every embedding's out-of-fold prediction and residual:")
gis_widgets.download_buttons(
    lambda: probe_residuals_layer(report, task), f"probe_residuals_{task}", "probe_residuals", len(report.tasks[task])
)
