"""Predict: click the map for P(y|x); upload a geo-tagged photo for P(y|I), P(y|x) and the fused P(y|I,x)."""

import streamlit as st
from streamlit_folium import st_folium

from core.data.images import FORMAT_NAMES
from core.workflows.predict import DISTRIBUTIONS, Photo, top_k
from core.train.records import RunRecord
from geovis import app_state, browse, geolocation, map_clicks, maps, prediction, predictor_state
from geovis.assets import MissingAssetsError
from geovis.markdown_text import escape_markdown
from geovis.thumbnails import display_image
from geovis.uploads import limited_file_uploader, upload_limit_mb

app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

MAP_KEY = "predict_map"
PIN = "predict_pin"

st.title("Predict")
st.markdown(
    "Click anywhere on the map: the location model gives **P(y | x)**, the classes likely at that place. "
    "Upload a geo-tagged photo: its GPS position is pinned on the map, the image model gives **P(y | I)** "
    "and the two are fused into **P(y | I, x)** — click elsewhere to move the pin and watch the fusion change."
)

runs = predictor_state.pick_runs("predict", with_image=True)
if runs is None:
    predictor_state.offer_quick_pipeline()
    st.stop()
image_run = runs[1]

upload_col, photo_col, imagenet_col = st.columns([2, 1, 2])
upload = limited_file_uploader(
    upload_col, "Geo-tagged photo (JPEG, PNG, HEIC, AVIF, WebP…)", type=predictor_state.UPLOAD_TYPES,
    limit_mb=predictor_state.UPLOAD_LIMIT_MB, key="predict_photo",
    help=f"{FORMAT_NAMES}, up to {upload_limit_mb(predictor_state.UPLOAD_LIMIT_MB)} MB; the GPS position is read from its EXIF.",
)
basemap = upload_col.selectbox("Basemap", maps.BASEMAPS, format_func=maps.BASEMAP_LABELS.get, key="predict_basemap")
with upload_col:
    photo = predictor_state.photo_from_upload(upload)
photo_logits = None
if photo is not None:
    photo_col.image(display_image(photo.image), caption=escape_markdown(upload.name), width="stretch")
    with imagenet_col:
        if imagenet := predictor_state.imagenet_top5(photo):
            st.plotly_chart(
                prediction.distribution_figure(imagenet, "In the photo: ImageNet top-5"),
                key="predict_imagenet",
            )
            st.caption("What EfficientNet-Lite0 (ImageNet weights) recognises in the photo.")
    if image_run is None:
        upload_col.info("Pick an image model above to see P(y | I) and the fused P(y | I, x).")
    else:
        photo_logits = predictor_state.image_logits(photo.digest, str(image_run.run_dir), predictor_state.load_predictor(*runs), photo)


@st.fragment
def explore(
    runs: tuple[RunRecord, RunRecord | None], photo: Photo | None, upload_id: str | None, photo_logits, basemap: maps.Basemap
) -> None:
    """The map and the predictions at its pin: a click reruns only this part of the page. The map is sent
    before the models are loaded (the first time), so the browser draws it meanwhile."""
    pin: prediction.Pin = st.session_state.setdefault(PIN, prediction.Pin())
    pin.update(browse.clicked_lonlat(st.session_state.get(MAP_KEY)), photo, upload_id)
    try:
        world = maps.base_map(basemap=basemap, instant_clicks=True)
    except MissingAssetsError as error:
        st.error(f"The map could not be drawn: {error}")
        return
    # render=False skips a second, redundant render of the whole HTML document: same output, ~40 % faster clicks.
    st_folium(
        world, key=MAP_KEY, height=460, use_container_width=True, returned_objects=map_clicks.RETURNED_OBJECTS, render=False,
        feature_group_to_add=prediction.pins([("photo" if photo else "here", pin.lonlat)]) if pin.lonlat else None,
    )
    predictor = predictor_state.load_predictor(*runs)
    # The same elements in the same places before and after a click: the chart updates in place, and the
    # browser has loaded its plot library before the first click.
    settings, fusion_col = st.columns([1, 2])
    k = settings.slider("Classes shown", 3, len(predictor.class_names), min(5, len(predictor.class_names)), key="predict_k")
    if pin.lonlat is None:
        st.info("Click the map to predict the classes at that place.")
        st.plotly_chart(prediction.distribution_figure(top_k(predictor.prior, predictor.class_names, k), prediction.PRIOR_TITLE), key="predict_location")
        return
    lon, lat = pin.lonlat
    st.caption(f"Pin at latitude {lat:.4f}, longitude {lon:.4f} ({pin.source}).")
    location_logits = predictor.location_logits([pin.lonlat])
    if photo_logits is None:
        probs = location_logits.softmax(-1)[0]
        st.plotly_chart(prediction.distribution_figure(top_k(probs, predictor.class_names, k), DISTRIBUTIONS["location"]), key="predict_location")
        return
    fused = predictor.fuse(photo_logits, location_logits)
    fusion = fusion_col.radio(
        "Fusion", [name for name in ("calibrated", "product") if name in fused], horizontal=True, key="predict_fusion",
        format_func=lambda name: DISTRIBUTIONS[name], help="Calibrated: weights fit on the validation split",
    )
    for column, name in zip(st.columns(3), ("image", "location", fusion)):
        figure = prediction.distribution_figure(top_k(fused[name][0], predictor.class_names, k), DISTRIBUTIONS[name])
        column.plotly_chart(figure, key=f"predict_{name}")


explore(runs, photo, upload.file_id if photo is not None else None, photo_logits, basemap)
geolocation.photo_section(photo, predictor_state.load_predictor(*runs) if photo is not None else None)
