"""The Predict page in AppTest: map clicks (through session state) show P(y|x); a geo-tagged JPEG pins its
GPS position and shows P(y|I), P(y|x) and the fused P(y|I,x); every bad upload gives a clear message and the
page keeps working; with no trained model, a quick default pipeline is offered, trained and used."""

import json
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data.images import FORMAT_NAMES, MAX_IMAGE_BYTES
from core.workflows.predict import Predictor, top_k
from core.workflows import jobs
from geovis import prediction, predictor_state
from geovis.markdown_text import escape_markdown
from tests.data.fixtures import (
    altered_gps_ifd, gps_ifd, jpeg_with_gps_bytes, noise_jpeg_bytes, photo_bytes, png_header_bytes, truncated_jpeg_bytes,
)
from tests.app.apptest import APP, ok, open_page

PAGE = "app_pages/predict.py"
MAP_KEY = "predict_map"




def open_predict(with_image: bool = True) -> AppTest:
    """The page with the tiny models: the image model is chosen by default; ``with_image=False`` unselects it."""
    at = open_page(PAGE)
    assert at.selectbox(key="predict_image_run").index == 1, "the newest image model by default"
    return at if with_image else ok(at.selectbox(key="predict_image_run").select_index(0).run())


def click(at: AppTest, lat: float, lng: float) -> AppTest:
    at.session_state[MAP_KEY] = {"last_clicked": {"lat": lat, "lng": lng}}
    return ok(at.run())


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/jpeg") -> AppTest:
    """``at`` after uploading a file; the run raised nothing (no exception element either)."""
    at.file_uploader(key="predict_photo").set_value((name, data, mime))
    return ok(at.run())


def charts(at: AppTest) -> dict[str, dict]:
    """The page's plotly figures by title."""
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {figure["layout"]["title"]["text"]: figure["data"][0] for figure in figures}


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_before_a_click_the_chart_shows_the_class_prior_and_a_click_shows_the_location_models_top_classes(runs):
    at = open_predict(with_image=False)
    assert not at.error and any("Click the map" in i.value for i in at.info)
    predictor = Predictor(runs.location, data=runs.data)
    prior = top_k(predictor.prior, runs.data.class_names, 5)
    assert charts(at) == {prediction.PRIOR_TITLE: charts(at)[prediction.PRIOR_TITLE]}, "only the prior before a click"
    assert charts(at)[prediction.PRIOR_TITLE]["x"] == pytest.approx([s.probability for s in prior], abs=1e-6)
    at = click(at, 48.86, 2.35)
    bars = charts(at)["P(y | x), from the location"]
    expected = top_k(predictor.location_probs([[2.35, 48.86]])[0], runs.data.class_names, 5)
    assert bars["y"] == [s.name for s in expected]
    assert bars["x"] == pytest.approx([s.probability for s in expected], abs=1e-6)
    assert "latitude 48.8600, longitude 2.3500 (your click)" in captions(at)
    at = click(at, -1.28, 396.82)  # a click on the world's next copy: the longitude wraps to 36.82
    assert "latitude -1.2800, longitude 36.8200 (your click)" in captions(at)


def test_a_geotagged_photo_is_pinned_and_shows_three_distributions_that_follow_the_pin(runs):
    at = open_predict()
    at = upload(at, "sydney.jpg", jpeg_with_gps_bytes(-33.8568, 151.2153, size=(96, 64)))
    assert not at.error and not at.warning
    assert "latitude -33.8568, longitude 151.2153 (the photo's GPS position)" in captions(at)
    figures = charts(at)
    assert {
        "In the photo: ImageNet top-5", "P(y | I), from the photo",
        "P(y | x), from the location", "P(y | I, x), calibrated fusion",
    } == set(figures)
    assert len(figures["In the photo: ImageNet top-5"]["y"]) == 5
    assert at.radio(key="predict_fusion").options == ["P(y | I, x), calibrated fusion", "P(y | I, x), product rule"]

    moved = click(at, 64.0, -20.0)  # move the pin: P(y|I) stays, P(y|x) and the fusion follow
    assert "latitude 64.0000, longitude -20.0000 (your click)" in captions(moved)
    after = charts(moved)
    assert after["P(y | I), from the photo"] == figures["P(y | I), from the photo"]
    assert after["P(y | x), from the location"] != figures["P(y | x), from the location"]
    product = ok(moved.radio(key="predict_fusion").set_value("product").run())
    assert "P(y | I, x), product rule" in charts(product)


def test_a_new_upload_of_the_same_bytes_under_another_name_pins_the_photo_again_after_a_click(runs):
    photo = jpeg_with_gps_bytes(-33.8568, 151.2153, size=(96, 64))
    at = click(upload(open_predict(), "sydney.jpg", photo), 64.0, -20.0)
    assert "latitude 64.0000, longitude -20.0000 (your click)" in captions(at)
    at = upload(at, "sydney-again.jpg", photo)
    assert "latitude -33.8568, longitude 151.2153 (the photo's GPS position)" in captions(at)


def _photo_with_gps(**changes) -> bytes:
    return noise_jpeg_bytes(size=(64, 64), gps=altered_gps_ifd(**changes))


BAD_FILES = [
    ("empty.jpg", b"", "the file is empty (0 bytes)"),
    ("cut.jpg", truncated_jpeg_bytes(), "the image data is truncated"),
    ("notes.jpg", b"Dear diary, this is not a photo.\n" * 20, "not an image"),
    ("bomb.png", png_header_bytes(30_000, 30_000), "decompression bomb"),
    ("huge.jpg", b"\xff\xd8\xff" + bytes(MAX_IMAGE_BYTES), "larger than the 25 MiB (26,214,400 bytes) this app takes"),
]
BAD_GPS = [
    ("lat91.jpg", _photo_with_gps(GPSLatitude=((91, 1), (0, 1), (0, 1))), "latitude 91° is larger than 90°"),
    ("nan.jpg", _photo_with_gps(GPSLatitude=((0, 0), (0, 1), (0, 1))), "zero denominator (0/0)"),
    ("zero.jpg", _photo_with_gps(GPSLongitude=((20, 1), (30, 0), (0, 1))), "zero denominator (30/0)"),
    ("norefs.jpg", _photo_with_gps(GPSLatitudeRef=None, GPSLongitudeRef=None), "reference must be N or S, found missing"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_a_bad_file_gives_a_clear_error_and_clicks_still_predict(runs, name, data, message):
    at = upload(open_predict(), name, data)
    [error] = at.error
    assert name in error.value and message in error.value and "Traceback" not in error.value
    assert not at.get("image")
    at = click(at, 10.0, 20.0)
    assert "P(y | x), from the location" in charts(at)


@pytest.mark.parametrize(("name", "data", "message"), BAD_GPS, ids=[name for name, _, _ in BAD_GPS])
def test_unusable_gps_asks_for_a_click_and_the_photo_is_still_classified(runs, name, data, message):
    at = upload(open_predict(), name, data)
    assert not at.error
    [warning] = at.warning
    assert name in warning.value and message in warning.value and "Click the map" in warning.value
    assert any("Click the map to predict" in i.value for i in at.info), "no pin until the user clicks"
    at = click(at, 10.0, 20.0)
    assert {"P(y | I), from the photo", "P(y | x), from the location", "P(y | I, x), calibrated fusion"} <= set(charts(at))


def test_a_photo_without_gps_waits_for_a_click(runs):
    at = click(open_predict(), 30.0, 30.0)
    at = upload(at, "plain.jpg", noise_jpeg_bytes(size=(64, 64)))
    assert any("has no GPS position" in i.value for i in at.info) and not at.error
    assert "P(y | I), from the photo" not in charts(at), "a new photo without GPS removes the old pin"
    at = click(at, -10.0, -60.0)
    assert "latitude -10.0000, longitude -60.0000 (your click)" in captions(at)
    assert "P(y | I, x), calibrated fusion" in charts(at)


@pytest.mark.parametrize("size", [(2_000, 1), (20_000, 1)], ids=["2000x1", "20000x1"])
def test_a_photo_of_extreme_aspect_ratio_is_shown_and_used(runs, size):
    at = upload(open_predict(), "strip.png", photo_bytes("PNG", gps=gps_ifd(48.85, 2.35), size=size), "image/png")
    assert not at.error and len(at.get("image")) == 1, "st.image used to raise 'height and width must be > 0'"
    assert "latitude 48.8500, longitude 2.3500 (the photo's GPS position)" in captions(at)
    assert "P(y | I, x), calibrated fusion" in charts(at)
    ok(at.run())  # and the next rerun too


DECODED = [("tokyo.avif", "AVIF", "image/avif"), ("tokyo.webp", "WEBP", "image/webp"), ("tokyo.HEIC", "HEIF", "image/heic")]
NOT_DECODED = [
    ("report.pdf", b"%PDF-1.4 not a photo\n" * 10, "application/pdf"),
    ("tokyo.ppm", b"P6 64 48 255\n" + bytes(64 * 48 * 3), "image/x-portable-pixmap"),  # Pillow reads it, we do not
]


def test_every_format_the_decoder_reads_is_accepted_and_any_other_file_is_explained(runs):
    at = open_predict()
    for name, fmt, mime in DECODED:
        at = upload(at, name, photo_bytes(fmt, gps=gps_ifd(35.68, 139.69), size=(64, 48)), mime)
        assert not at.error, name
        assert "latitude 35.6800, longitude 139.6900 (the photo's GPS position)" in captions(at), name
    for name, data, mime in NOT_DECODED:
        at = upload(at, name, data, mime)  # Streamlit's suffix check used to raise an exception element here
        [error] = at.error
        assert escape_markdown(f"not one we can read (use {FORMAT_NAMES})") in error.value and name in error.value
        assert not at.get("image")


def server_config() -> dict:
    return tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())


def test_the_server_refuses_uploads_over_the_apps_limit():
    assert server_config()["server"]["maxUploadSize"] == predictor_state.UPLOAD_LIMIT_MB == MAX_IMAGE_BYTES // 2**20


def test_no_full_garbage_collection_holds_back_a_clicks_chart():
    """Streamlit's gc.collect(2) after every run held the GIL ~0.3 s before a click's chart could be sent."""
    assert server_config()["runner"]["postScriptGC"] is False


MARKDOWN_NAME = "**bold** [x](http://e.org) <b>y</b> :material/home: $z$.jpg"


def test_file_names_show_literally_not_as_markdown(runs):
    at = upload(open_predict(), MARKDOWN_NAME, noise_jpeg_bytes(size=(64, 64)))
    shown = escape_markdown(MARKDOWN_NAME)
    assert any(f"**{shown}** has no GPS position" in info.value for info in at.info)
    assert at.get("image")[0].proto.imgs[0].caption == shown
    at = upload(at, MARKDOWN_NAME, b"not a photo")
    assert at.error[0].value.startswith(f"**{shown}** cannot be used: not an image")


def test_without_runs_a_quick_pipeline_is_offered_trained_and_then_used(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(jobs, "_MANAGER", jobs.JobManager(data_provider=lambda config, progress: runs.data))
    at = open_page(PAGE)
    assert any("No trained location model yet" in i.value for i in at.info) and not at.error
    at = ok(at.button(key="quick_pipeline_start").click().run())
    pipeline = at.session_state["geocsp_quick_pipeline"]
    assert pipeline.join(timeout=300) and not pipeline.error, pipeline.error
    at = ok(at.run())
    assert at.selectbox(key="predict_location_run").value.run_dir == pipeline.jobs[1].run_dir
    assert len(at.selectbox(key="predict_image_run").options) == 2, "none, or the pipeline's image model"
    at = click(at, 0.0, 20.0)
    assert "P(y | x), from the location" in charts(at)
