""""Where was this taken?" in AppTest: a photo without GPS on Predict gets the heatmap, the 90 % region and the
top-5 places; a geotagged one behind a toggle, with its errors; Browse puts a sample on the map; without a CSP
run the section says which run to train."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.coords import haversine_km
from core.workflows import geolocate
from core.workflows.geolocate import Geolocator
from core.workflows.geolocation_calibration import CALIBRATION_FILE, Calibration, TemperatureFit, save_calibration
from core.workflows.geolocation_neighbour_fit import NeighbourFit
from core.workflows.geolocation_neighbours import NeighbourSettings
from core.workflows.geolocation_rerank import RerankFit, RerankSettings
from core.places import nearest_places
from core.workflows.predict import read_photo
from core.train.runner import run
from geovis import app_state, geolocation
from tests.app.apptest import ok, open_page
from tests.data.fixtures import jpeg_with_gps_bytes, photo_bytes, truncated_jpeg_bytes
from tests.workflows.test_predict import tiny_config

PREDICT = "app_pages/predict.py"
BROWSE = "app_pages/browse.py"
COLUMNS = ["rank", "probability", "latitude", "longitude", "nearest city", "country", "city distance km"]


@pytest.fixture(scope="module")
def pretrain_run(tiny_runs):
    """A tiny CSP pre-training run beside the tiny location and image models."""
    config = tiny_config("pretrain")
    return run(config, tiny_runs.location.parent / "20250101-000003-pretrain-dddddd", data=tiny_runs.data).run_dir


@pytest.fixture
def geolocation_runs(runs, pretrain_run, monkeypatch):
    """The tiny runs, a CSP run among them; the runs read their tiny in-memory data (gallery, prior)."""
    monkeypatch.setattr(geolocate, "load_feature_data", lambda config, progress=None: runs.data)
    return runs


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/jpeg") -> AppTest:
    at.file_uploader(key="predict_photo").set_value((name, data, mime))
    return ok(at.run())


def geolocation_map(at: AppTest) -> dict:
    """What st_folium sends the browser for the geolocation map (drawn below the page's own map): its ``script``
    and ``feature_group``."""
    page_map, geolocated = at.get("component_instance")
    return json.loads(geolocated.proto.json_args)


def test_a_photo_without_gps_shows_where_it_was_taken(geolocation_runs, pretrain_run):
    at = upload(open_page(PREDICT), "plain.png", photo_bytes("PNG", size=(64, 48)), "image/png")
    assert not at.error and "Where was this taken?" in [h.value for h in at.header]
    assert at.selectbox(key="predict_geolocation_run").value.run_dir == pretrain_run
    [places] = [frame.value for frame in at.dataframe]
    assert list(places.columns) == COLUMNS and list(places["rank"]) == [1, 2, 3, 4, 5]
    geolocator = Geolocator(pretrain_run, data=geolocation_runs.data)
    image = read_photo(photo_bytes("PNG", size=(64, 48))).image
    expected = geolocator.locate_images([image], normalise=True)[0].top(5)
    assert list(places["latitude"]) == [round(p.lat, 3) for p in expected]
    city, _ = nearest_places([[expected[0].lon, expected[0].lat]])[0]
    assert places["country"][0] == city.country_code and places["nearest city"][0].startswith(city.name)
    drawn = geolocation_map(at)
    assert drawn["script"].count('"properties":{"c":') > 100, "the heatmap's hexagons"
    assert geolocation.REGION_COLOR in drawn["feature_group"], "the 90 % region outlined"
    assert "true position" not in drawn["feature_group"]
    assert any("90% credible region" in c.value for c in at.caption)
    assert not [m for m in at.metric if m.label == "Error of the top place"], "no truth, no error"


def test_a_geotagged_photo_is_geolocated_behind_a_toggle_with_its_errors(geolocation_runs):
    at = upload(open_page(PREDICT), "sydney.jpg", jpeg_with_gps_bytes(-33.8568, 151.2153, size=(96, 64)))
    assert not at.dataframe, "a photo with GPS is not geolocated unless asked"
    at = ok(at.toggle(key="geolocate_photo").set_value(True).run())
    errors = {m.label: m.value for m in at.metric}
    assert errors["Error of the top place"].endswith(" km") and errors["True position in the 90% region"] in ("yes", "no")
    [places] = [frame.value for frame in at.dataframe]
    assert list(places.columns) == [*COLUMNS, "error km"] and (places["error km"] >= 0).all()
    assert "true position" in geolocation_map(at)["feature_group"]


def test_the_gallery_the_prior_and_a_class_change_the_places(geolocation_runs):
    at = upload(open_page(PREDICT), "plain.png", photo_bytes("PNG", size=(64, 48)), "image/png")
    grid = at.dataframe[0].value
    at = ok(at.checkbox(key="predict_geolocation_normalise").uncheck().run())
    plain = at.dataframe[0].value
    assert not at.error and not plain.equals(grid), "the image-marginal correction (on by default) moves the places"
    at = ok(at.checkbox(key="predict_geolocation_prior").check().run())
    assert not at.error and not at.dataframe[0].value.equals(plain)
    at = ok(at.selectbox(key="predict_geolocation_class").set_value(1).run())
    assert not at.error and len(at.dataframe[0].value) == 5
    at = ok(at.radio(key="predict_geolocation_candidates").set_value("gallery").run())
    assert not at.error and at.checkbox(key="predict_geolocation_prior").disabled
    gallery = at.dataframe[0].value
    train = geolocation_runs.data.lonlat[geolocation_runs.data.indices("train")].numpy()
    first = (gallery["longitude"][0], gallery["latitude"][0])
    assert min(abs(lon - first[0]) + abs(lat - first[1]) for lon, lat in train.tolist()) < 1e-3, "a training location"
    at = ok(at.select_slider(key="predict_geolocation_resolution").set_value(5).run())
    at = ok(at.radio(key="predict_geolocation_candidates").set_value("grid").run())
    assert not at.error and len(at.dataframe[0].value) == 5


def test_a_run_with_a_fitted_neighbour_density_combines_it_by_default(geolocation_runs, pretrain_run):
    settings = NeighbourSettings(k=4, kappa=300.0, similarity_tau=0.1, weight=0.8, floor=0.1)
    fit = Calibration(TemperatureFit(0.08, -8.0, -8.2), TemperatureFit(0.09, -8.1, -8.3), 0.1, "val", 30, 3,
                      NeighbourFit(settings, 0.07, -7.9, -8.1, 0.9))
    geolocation._geolocator.clear()
    try:
        save_calibration(pretrain_run, fit)
        at = upload(open_page(PREDICT), "plain.png", photo_bytes("PNG", size=(64, 48)), "image/png")
        assert at.checkbox(key=f"predict_geolocation_neighbours_{pretrain_run.name}").value
        assert at.number_input(key=f"predict_geolocation_tau_{pretrain_run.name}_True_True").value == 0.07
        geolocator = Geolocator(pretrain_run, data=geolocation_runs.data)
        image = read_photo(photo_bytes("PNG", size=(64, 48))).image
        expected = geolocator.locate_images([image], normalise=True, neighbours=settings)[0].top(5)
        assert list(at.dataframe[0].value["latitude"]) == [round(p.lat, 3) for p in expected]
        at = ok(at.checkbox(key=f"predict_geolocation_neighbours_{pretrain_run.name}").uncheck().run())
        plain = geolocator.locate_images([image], normalise=True, tau=0.09)[0].top(5)
        assert list(at.dataframe[0].value["latitude"]) == [round(p.lat, 3) for p in plain]
        at = ok(at.checkbox(key=f"predict_geolocation_neighbours_{pretrain_run.name}").check().run())
        at = ok(at.checkbox(key="predict_geolocation_normalise").uncheck().run())
        assert at.checkbox(key=f"predict_geolocation_neighbours_{pretrain_run.name}").disabled, "fitted with ÷ Z(x) only"
        without = geolocator.locate_images([image], normalise=False, tau=0.08)[0].top(5)
        assert list(at.dataframe[0].value["latitude"]) == [round(p.lat, 3) for p in without]
    finally:
        (pretrain_run / CALIBRATION_FILE).unlink(missing_ok=True)
        geolocation._geolocator.clear()


def test_a_run_with_a_chosen_re_ranking_pins_its_best_guess_and_its_error(geolocation_runs, pretrain_run):
    settings = RerankSettings(k=8, kappa=1e4, similarity_tau=0.05, csp_weight=2.0)
    fit = Calibration(TemperatureFit(0.08, -8.0, -8.2), TemperatureFit(0.09, -8.1, -8.3), 0.1, "val", 30, 3, None,
                      RerankFit(settings, {"200": 1.0}, {"200": 0.5}, 30))
    geolocation._geolocator.clear()
    try:
        save_calibration(pretrain_run, fit)
        at = upload(open_page(PREDICT), "sydney.jpg", jpeg_with_gps_bytes(-33.8568, 151.2153, size=(96, 64)))
        at = ok(at.toggle(key="geolocate_photo").set_value(True).run())
        geolocator = Geolocator(pretrain_run, data=geolocation_runs.data)
        image = read_photo(jpeg_with_gps_bytes(-33.8568, 151.2153, size=(96, 64))).image
        guess = geolocator.best_guesses(geolocator.encode_images([image]), settings)[0]
        errors = {m.label: m.value for m in at.metric}
        assert errors["Error of the best guess"] == f"{float(haversine_km(guess, (151.2153, -33.8568))):,.0f} km"
        drawn = geolocation_map(at)["feature_group"]
        assert "best guess" in drawn and geolocation.GUESS_COLOR in drawn and f"{guess[1]}" in drawn
        assert any("Cyan dot: the best guess" in c.value for c in at.caption)
    finally:
        (pretrain_run / CALIBRATION_FILE).unlink(missing_ok=True)
        geolocation._geolocator.clear()


def test_without_a_csp_run_the_section_says_which_run_can_geolocate(runs, tmp_path, monkeypatch):
    for run_dir in (runs.location, runs.image):  # the tiny runs, without the CSP run
        (tmp_path / run_dir.name).symlink_to(run_dir)
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path))
    at = upload(open_page(PREDICT), "plain.png", photo_bytes("PNG"), "image/png")
    assert any("No CSP pre-training run yet" in i.value and "stage **pretrain**" in i.value for i in at.info)
    assert not at.dataframe and not at.error


def test_browse_puts_a_sample_on_the_map(geolocation_runs, monkeypatch):
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: geolocation_runs.dataset)
    at = open_page(BROWSE)
    at.session_state["browse_map"] = {"last_clicked": {"lat": 10.0, "lng": 20.0}}
    at = ok(at.run())
    assert not at.dataframe
    at = ok(at.toggle(key="browse_geolocate").set_value(True).run())
    assert not at.error
    errors = {m.label: m.value for m in at.metric}
    assert errors["Error of the top place"].endswith(" km")
    [places] = [frame.value for frame in at.dataframe]
    assert list(places.columns) == [*COLUMNS, "error km"]
    assert "true position" in geolocation_map(at)["feature_group"]


def test_a_corrupt_photo_gets_the_existing_clear_error_and_no_geolocation(geolocation_runs):
    at = upload(open_page(PREDICT), "cut.jpg", truncated_jpeg_bytes())
    [error] = at.error
    assert "cut.jpg" in error.value and "the image data is truncated" in error.value
    assert "Where was this taken?" not in [h.value for h in at.header] and not at.dataframe


def test_browse_loads_torch_and_the_models_only_when_the_toggle_is_switched_on():
    script = (
        "import sys\n"
        "from geovis import imports\n"
        "imports.import_script_dependencies('app_pages/browse.py')\n"
        "assert 'torch' not in sys.modules and 'geovis.geolocation' not in sys.modules, 'Browse pulls in the models'\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=180,
                            env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr[-2000:]
