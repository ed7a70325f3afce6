"""What the Predict and Compare pages share: run pickers, the cached :class:`Predictor`, uploaded photos,
per-photo and per-class caches, the location inputs, and the quick default pipeline offer.

Predictors are kept in ``st.cache_resource`` (one per run pair, shared by all sessions), so a click
costs one forward pass. Every failure is shown as a message in the page, never as a traceback.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch
from streamlit.runtime.uploaded_file_manager import UploadedFile

from core.coords import CoordinateError, LonLat
from core.data.images import IMAGE_SUFFIXES, MAX_IMAGE_BYTES, ImageRejected
from core.image.efficientnet import classify
from core.places import find_places, typed_location
from core.workflows.predict import (
    IMAGE_STAGE, LOCATION_STAGE, ClassScore, Photo, Predictor, PredictorError, QuickPipeline, quick_pipeline_configs,
    read_photo, usable_runs,
)
from core.workflows import jobs
from core.workflows.starter import BUILD_COMMAND
from core.train.records import RunRecord, default_run_index, runs_root
from geovis import access_gate, app_state, prediction
from geovis.markdown_text import escape_markdown

PIPELINE = "geocsp_quick_pipeline"
#: Example places offered as typed coordinates (lat, lon) for the Compare page's location slots.
EXAMPLE_LATLON = ((48.8534, 2.3488), (-1.2833, 36.8167), (35.6895, 139.6917), (-3.4653, -62.2159))
LOCATION_SOURCES = ("Coordinates", "City", "Map click")
#: The uploader's size cap in MB, the same as the image decoder's own byte limit and the server's
#: ``server.maxUploadSize`` in .streamlit/config.toml (a test keeps the three equal).
UPLOAD_LIMIT_MB = MAX_IMAGE_BYTES // (1024 * 1024)
#: The uploader's file types: any image (the browser's file dialog offers these) and the suffixes of the formats
#: we decode (HEIC and AVIF often have no image MIME type). With a MIME type in the list, Streamlit skips its
#: server-side suffix check, which raised an exception for other files: the decoder checks the content instead
#: and says what it accepts.
UPLOAD_TYPES = ("image/*", *IMAGE_SUFFIXES)


def _run_label(record: RunRecord) -> str:
    score = record.metrics.get("test_top1")
    dataset = record.config.get("data", {}).get("dataset", "?")
    return f"{record.name} · {dataset}" + (f" · test top-1 {score:.2f}" if isinstance(score, float) else "")


def pick_runs(key: str, with_image: bool) -> tuple[RunRecord, RunRecord | None] | None:
    """Selectboxes for a location-classifier run and (with ``with_image``) an image-classifier run on the
    same dataset; None when no location classifier has been trained yet."""
    location_runs = usable_runs(LOCATION_STAGE)
    if not location_runs:
        return None
    columns = st.columns(2)
    location = columns[0].selectbox(
        "Location model P(y | x)", location_runs, index=default_run_index(location_runs), format_func=_run_label,
        key=f"{key}_location_run", help="Fine-tuned location classifiers (stage finetune); the last one finished is chosen first",
    )
    if not with_image:
        return location, None
    dataset = location.config.get("data", {}).get("dataset")
    image_runs = [r for r in usable_runs(IMAGE_STAGE) if r.config.get("data", {}).get("dataset") == dataset]
    image = columns[1].selectbox(
        "Image model P(y | I)", [None, *image_runs], index=1 + default_run_index(image_runs) if image_runs else 0, key=f"{key}_image_run",
        format_func=lambda r: "none (location only)" if r is None else _run_label(r),
        help="Image classifiers trained on the same dataset as the location model",
    )
    return location, image


@st.cache_resource(max_entries=4, show_spinner="Loading the models (once per model pair)…")
def _predictor(location_run: str, image_run: str | None) -> Predictor:
    return Predictor(Path(location_run), Path(image_run) if image_run else None)


def load_predictor(location: RunRecord, image: RunRecord | None) -> Predictor:
    """The cached predictor of a run pair; when it cannot be built, an error in the page and the page stops."""
    try:
        return _predictor(str(location.run_dir), str(image.run_dir) if image else None)
    except PredictorError as error:
        st.error(f"These models cannot be used together: {escape_markdown(error)}")
        st.stop()


@st.cache_resource(max_entries=8, show_spinner="Reading the photo…")
def _photo(data: bytes, name: str) -> Photo:
    return read_photo(data, name)


def photo_from_upload(upload: UploadedFile | None) -> Photo | None:
    """The uploaded photo, or None; a file that cannot be used is explained with ``st.error``, unusable or
    missing GPS data with ``st.warning`` / ``st.info`` (the photo is still used)."""
    if upload is None:
        return None
    name = escape_markdown(upload.name)
    try:
        photo = _photo(upload.getvalue(), upload.name)
    except ImageRejected as error:
        st.error(f"**{name}** cannot be used: {escape_markdown(error.reason)}. Upload another photo; meanwhile, clicks on the map still predict.")
        return None
    except Exception as error:  # noqa: BLE001 — an unforeseen decoder failure on untrusted bytes: a message, not a traceback
        st.error(f"**{name}** cannot be read ({type(error).__name__}: {escape_markdown(error)}). Upload another photo.")
        return None
    if photo.gps_problem:
        st.warning(f"The GPS position in **{name}** is unusable ({escape_markdown(photo.gps_problem)}). Click the map where the photo was taken.")
    elif photo.gps is None:
        st.info(f"**{name}** has no GPS position. Click the map where the photo was taken.")
    return photo



@st.cache_data(max_entries=32, show_spinner="Classifying the photo…")
def image_logits(digest: str, image_run: str, _predictor: Predictor, _photo: Photo) -> torch.Tensor:
    """The image model's class scores ``[1, C]`` for a photo, cached per (photo content, image run)."""
    return _predictor.image_logits([_photo.image])


@st.cache_data(max_entries=32, show_spinner="Recognising what is in the photo…")
def _imagenet_top5(digest: str, _photo: Photo) -> list[ClassScore]:
    return [ClassScore(p.class_id, p.name, p.probability) for p in classify([_photo.image], top_k=5)[0]]


def imagenet_top5(photo: Photo) -> list[ClassScore] | None:
    """EfficientNet-Lite0's ImageNet top-5 for a photo (cached per photo content); None, with a warning in
    the page, when the pretrained weights cannot be loaded."""
    try:
        return _imagenet_top5(photo.digest, photo)
    except (OSError, RuntimeError, ImportError) as error:
        st.warning(f"What is in the photo cannot be recognised: EfficientNet-Lite0 is unavailable ({error}).")
        return None


@st.cache_data(max_entries=16, show_spinner="Predicting every hexagon…")
def class_hexagons(location_run: str, class_index: int, resolution: int, _predictor: Predictor):
    """:func:`geovis.prediction.class_probability_hexagons`, cached per (run, class, resolution)."""
    return prediction.class_probability_hexagons(_predictor, class_index, resolution)


def location_input(slot: int, clicks: dict[int, tuple[float, float]]) -> tuple[str, LonLat] | None:
    """One Compare location: typed coordinates, a city name looked up offline, or a map click.

    Returns (label, location), or None (with a message in the page) while it is not set or invalid.
    """
    name = f"Location {slot + 1}"
    source = st.radio(name, LOCATION_SOURCES, horizontal=True, key=f"compare_source_{slot}")
    if source == "Coordinates":
        lat0, lon0 = EXAMPLE_LATLON[slot]
        lat = st.number_input("Latitude (°, north +)", value=lat0, format="%.4f", key=f"compare_lat_{slot}")
        lon = st.number_input("Longitude (°, east +)", value=lon0, format="%.4f", key=f"compare_lon_{slot}")
        try:
            point = typed_location(lat, lon)
        except CoordinateError as error:
            st.error(f"{name}: {error}")
            return None
        return f"{slot + 1} · {point.lat:.2f}, {point.lon:.2f}", point
    if source == "City":
        query = st.text_input("City name", key=f"compare_city_{slot}", placeholder="e.g. Nairobi")
        if not query.strip():
            st.info("Type a city name (offline GeoNames table).")
            return None
        places = find_places(query)
        if not places:
            st.warning(f"No place named “{escape_markdown(query.strip())}” in the offline GeoNames table (places with 1 000+ inhabitants).")
            return None
        place = st.selectbox("Place", places, format_func=lambda p: p.label, key=f"compare_place_{slot}")
        return f"{slot + 1} · {place.name}", place.lonlat
    if slot not in clicks:
        st.info("Pick this location as the click target below the chart, then click the map.")
        return None
    lon, lat = clicks[slot]
    return f"{slot + 1} · click {lat:.2f}, {lon:.2f}", LonLat(lon, lat)


def job_manager() -> jobs.JobManager:
    """The process-wide job queue (the one the Pre-train page shows)."""
    return st.cache_resource(jobs.job_manager)()


def session_owner() -> str:
    """This session's owner of jobs (shared with the Pre-train page): the user a shared app let in, else a
    private session id."""
    return access_gate.current_user().name


def no_model_message() -> str:
    """What a model page says when the runs folder holds no trained location model: how to get one."""
    return (
        f"No trained location model yet (runs folder `{runs_root()}`). `make app` builds the starter models; "
        f"to build them without restarting the app, run `{BUILD_COMMAND}` in a terminal and reload this page. "
        "Or train your own on the **Pre-train** page"
    )


def offer_quick_pipeline() -> None:
    """Say that no location model exists yet and offer to train a quick default pipeline, then follow it."""
    st.info(
        f"{no_model_message()}, or start a quick default pipeline here: CSP pre-training, fine-tuning into "
        "P(y | x) and an image classifier P(y | I) on the active dataset, queued in the background (a few minutes)."
    )
    pipeline: QuickPipeline | None = st.session_state.get(PIPELINE)
    busy = pipeline is not None and pipeline.active
    if st.button("Train a quick default pipeline", type="primary", key="quick_pipeline_start", disabled=busy):
        registered = app_state.user_dataset()
        dataset = f"{registered.fmt}:{registered.path}" if registered else "default"
        pipeline = st.session_state[PIPELINE] = QuickPipeline(
            job_manager(), session_owner(), quick_pipeline_configs(dataset), made_by=access_gate.current_user().made_by
        )
    if pipeline is not None:
        polling = pipeline.active
        st.fragment(run_every=1.0 if polling else None)(_pipeline_progress)(pipeline, polling)


def _pipeline_progress(pipeline: QuickPipeline, polling: bool) -> None:
    """Each stage's progress; reruns the page once when the pipeline has ended."""
    if polling and not pipeline.active:
        st.rerun()
    for job in pipeline.jobs:
        st.progress(job.progress, text=f"{job.kind}: {job.status.replace('_', ' ')} · {job.message}")
    if pipeline.error:
        st.error(f"The quick pipeline did not finish: {escape_markdown(pipeline.error)}")
