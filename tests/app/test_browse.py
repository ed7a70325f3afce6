"""The Browse page in AppTest (filters, map clicks through session state, user datasets) and its geovis logic."""

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.coords import haversine_km
from core.data.default_dataset import load_default_dataset
from core.data.photo_folder import load_photo_folder
from core.data.sources import VIEW_SOURCES
from geovis import app_state, browse
from geovis.markdown_text import escape_markdown
from tests.app.test_app import tiny_dataset
from tests.data.fixtures import gps_ifd, jpeg_with_gps_bytes, photo_bytes, write_file
from tests.app.apptest import APP, ok

BROWSE = "app_pages/browse.py"
MAP_KEY = "browse_map"


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """A data root holding a photo folder ``trip``: 4 located photos in 2 classes over 3 days, 1 without GPS.

    Each photo carries its GPS (UTC) time, as phones write it, next to the camera's local time."""
    root = tmp_path / "data"
    photos = [
        ("beach/bali.jpg", -8.65, 115.13, datetime(2021, 7, 1, 9)),
        ("beach/cadiz.jpg", 36.53, -6.29, datetime(2022, 8, 1, 10)),
        ("city/lisbon.jpg", 38.72, -9.14, datetime(2022, 8, 2, 18)),
        ("city/tokyo.jpg", 35.68, 139.69, datetime(2023, 3, 5, 12)),
    ]
    for name, lat, lon, taken in photos:
        write_file(root / "trip" / name, jpeg_with_gps_bytes(lat, lon, fix_time=taken, capture_time=taken))
    write_file(root / "trip" / "city" / "no_gps.jpg", photo_bytes())
    (root / "empty").mkdir()
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(root))
    return root


def open_browse(timeout: float = 120) -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=timeout).run())
    return ok(at.switch_page(BROWSE).run())


def metric(at: AppTest, label: str) -> str:
    return by_label(at.metric, label).value


def shown(at: AppTest) -> int:
    return int(metric(at, "Shown samples").replace(",", ""))


def click(at: AppTest, lat: float, lng: float) -> AppTest:
    at.session_state[MAP_KEY] = {"last_clicked": {"lat": lat, "lng": lng}}
    return ok(at.run())


def details(at: AppTest) -> dict[str, str]:
    return at.table[0].value["value"].to_dict()


def captions(at: AppTest) -> list[str]:
    """Captions of the images shown (the sample's views)."""
    return [image.proto.imgs[0].caption for image in at.get("image")]


def by_label(elements, label: str):
    return next(element for element in elements if element.label == label)


def register(at: AppTest, fmt: str, path: str) -> AppTest:
    by_label(at.selectbox, "Format").set_value(fmt)
    by_label(at.text_input, "Path").set_value(path)
    return ok(by_label(at.button, "Load dataset").click().run())


def test_default_dataset_filters_change_what_is_shown():
    at = open_browse()
    assert not at.error
    total = len(load_default_dataset())
    assert shown(at) == total and metric(at, "Drawn as") == "hexagons"
    assert len(at.get("component_instance")) == 1, "the map is drawn"
    assert [i.value for i in at.info][0].startswith("Click the map")

    ok(by_label(at.multiselect, "Classes").set_value([12]).run())  # Croplands
    croplands = shown(at)
    assert 0 < croplands < total
    ok(by_label(at.multiselect, "Splits").set_value(["train"]).run())
    assert 0 < shown(at) < croplands
    ok(by_label(at.selectbox, "Region").set_value("Europe").run())
    assert metric(at, "Drawn as") == "markers" and 0 < shown(at) < croplands
    assert not at.slider, "the default dataset has no timestamps: no date filter"


def test_zooming_in_and_showing_the_current_view_draws_its_samples_as_markers():
    at = open_browse()
    ok(by_label(at.selectbox, "Region").set_value("Current view").run())
    assert metric(at, "Drawn as") == "hexagons", "the world until a view is chosen"
    # The map zoomed in on the Alps; Leaflet reports its bounds, the button makes them the region.
    at.session_state[MAP_KEY] = {"last_clicked": None, "bounds": {"_southWest": {"lat": 43.0, "lng": 4.0}, "_northEast": {"lat": 49.0, "lng": 16.0}}}
    ok(by_label(at.button, "Show this view").click().run())
    dataset = load_default_dataset()
    lon, lat = dataset.lonlat[:, 0], dataset.lonlat[:, 1]
    expected = int(((lon >= 4.0) & (lon <= 16.0) & (lat >= 43.0) & (lat <= 49.0)).sum())
    assert metric(at, "Drawn as") == "markers" and shown(at) == expected > 0
    assert any("4.0°E → 16.0°E, 43.0°N – 49.0°N" in c.value for c in at.caption)


def test_a_map_click_shows_the_nearest_sample_with_its_three_views_and_metadata():
    at = open_browse()
    paris = (2.35, 48.85)
    click(at, lat=paris[1], lng=paris[0])
    dataset = load_default_dataset()
    expected = int(np.argmin(haversine_km(dataset.lonlat, np.array(paris))))
    assert at.subheader[0].value.endswith(f"record {expected}")
    assert captions(at) == list(VIEW_SOURCES) and len(VIEW_SOURCES) == 3
    shown_details = details(at)
    assert shown_details["Country"] == "FR" and shown_details["Site id"] == f"site{expected:06d}"
    for field in ("Longitude", "Latitude", "Class", "Split", "Climate", "Nearest place"):
        assert shown_details[field], field
    assert float(shown_details["Longitude"]) == pytest.approx(dataset.lonlat[expected, 0], abs=1e-4)

    click(at, lat=-33.87, lng=151.21 + 360.0)  # Sydney, clicked one world copy to the east
    assert details(at)["Country"] == "AU"


def test_a_user_photo_folder_registered_on_overview_appears_on_browse(data_root, monkeypatch):
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(40))
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    register(at, "photo_folder", "trip")
    assert not at.error
    assert any(header.value == "Active dataset: trip" for header in at.header)
    assert any(e.label.startswith("1 problem noted while loading") for e in at.expander)

    ok(at.switch_page(BROWSE).run())
    assert shown(at) == 4 and metric(at, "Drawn as") == "markers"
    dates = at.slider[0]
    assert dates.value == (date(2021, 7, 1), date(2023, 3, 5))
    ok(dates.set_value((date(2022, 1, 1), date(2022, 12, 31))).run())
    assert shown(at) == 2

    click(at, lat=38.7, lng=-9.1)
    assert details(at)["Class"] == "city" and details(at)["Image"] == "city/lisbon.jpg"
    assert details(at)["Timestamp"] == "2022-08-02T18:00:00+00:00"
    assert captions(at) == ["2022-08-02"]

    ok(at.switch_page("app_pages/overview.py").run())
    ok(by_label(at.button, "Back to the embedded default dataset").click().run())
    assert any(header.value == "Active dataset: tiny" for header in at.header)


@pytest.mark.parametrize(
    ("fmt", "path", "message"),
    [
        ("photo_folder", "../elsewhere", "must be inside the data folder"),
        ("photo_folder", "empty", "no photos"),
        ("fmow", "trip", "split folder 'train' does not exist"),
        ("photo_folder", "  ", "enter the dataset's path"),
        ("photo_folder", "trip\x00", "the path contains a NUL byte (character 5), which no file name can hold"),
        ("geo_csv", "trip/\x1b[1mx.csv", "the path contains the control character U+001B (character 6)"),
        ("photo_folder", "**bold** [x](y)", escape_markdown("/**bold** [x](y): the photo folder does not exist")),
    ],
    ids=["outside-root", "empty-folder", "malformed-fmow", "no-path", "nul-byte", "control-character", "markdown"],
)
def test_a_bad_dataset_is_refused_with_a_clear_message(data_root, monkeypatch, fmt, path, message):
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(40))
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    register(at, fmt, path)
    assert len(at.error) == 1 and message in at.error[0].value, at.error[0].value
    assert any(header.value == "Active dataset: tiny" for header in at.header), "nothing changed"
    ok(at.switch_page(BROWSE).run())
    assert shown(at) == 40


def test_a_photo_of_extreme_aspect_ratio_and_a_markdown_like_class_show_on_browse(data_root, monkeypatch):
    write_file(data_root / "odd" / "**wide**" / "strip.png", photo_bytes("PNG", gps=gps_ifd(38.72, -9.14), size=(2_000, 1)))
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(40))
    at = register(ok(AppTest.from_file(APP, default_timeout=60).run()), "photo_folder", "odd")
    assert not at.error
    ok(at.switch_page(BROWSE).run())
    click(at, lat=38.7, lng=-9.1)  # st.image used to raise 'height and width must be > 0' here
    assert at.subheader[0].value == r"\*\*wide\*\* · record 0"
    assert captions(at) == ["strip.png"]


def test_a_camera_local_time_is_shown_as_local_never_as_utc(tmp_path):
    write_file(tmp_path / "tokyo.jpg", jpeg_with_gps_bytes(35.68, 139.69, capture_time=datetime(2023, 3, 5, 21)))
    fields = browse.sample_metadata(load_photo_folder(tmp_path), 0)
    assert fields["Taken (camera local time, zone unknown)"] == "2023-03-05 21:00:00"
    assert "Timestamp" not in fields and "local_time" not in fields


def test_nearest_sample_and_filters_on_a_small_dataset():
    dataset = tiny_dataset(200, seed=3)
    everything = browse.sample_layer(dataset, browse.Filters())
    assert len(everything.indices) == 200 and everything.kind == "markers"
    assert browse.sample_layer(dataset, browse.Filters(), max_markers=10).kind == "hexagons"
    index, km = browse.nearest_sample(dataset, everything.indices, tuple(dataset.lonlat[17].tolist()))
    assert index == 17 and km == pytest.approx(0.0, abs=1e-3)
    only = browse.Filters(classes=(2,), splits=("train",))
    mask = browse.filter_mask(dataset, only)
    assert mask.sum() == ((dataset.labels == 2) & (dataset.records["split"] == "train")).sum() > 0
    assert browse.clicked_lonlat(None) is None
    assert browse.clicked_lonlat({"last_clicked": {"lat": 10.0, "lng": 190.0}}) == (-170.0, 10.0)


def test_marker_maps_are_one_offline_geojson_layer_and_deterministic():
    dataset = tiny_dataset(300, seed=4)
    layer = browse.sample_layer(dataset, browse.Filters())
    pages = [browse.sample_map(layer, None, "outlines").get_root().render() for _ in range(2)]
    assert pages[0] == pages[1]
    assert "pointToLayer" in pages[0] and pages[0].count("L.circleMarker(") == 0
    assert "https://" not in pages[0] and "http://" not in pages[0]


def test_a_csv_with_a_bad_row_loads_when_the_form_says_skip(data_root, monkeypatch):
    write_file(data_root / "table" / "pics" / "a.jpg", photo_bytes())
    (data_root / "table" / "geo.csv").write_text("Filename;Latitude;Longitude;Class\npics\\a.jpg;38,7;-9,1;x\npics\\b.jpg;1;2;y\n")
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(40))
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    by_label(at.selectbox, "Format").set_value("geo_csv")
    by_label(at.text_input, "Path").set_value("table/geo.csv")
    ok(at.run())
    assert by_label(at.selectbox, "On bad rows").options == ["fail", "skip"]
    ok(by_label(at.button, "Load dataset").click().run())
    assert len(at.error) == 1 and "line 3, pics/b.jpg)" in at.error[0].value
    by_label(at.selectbox, "On bad rows").set_value("skip")
    ok(by_label(at.button, "Load dataset").click().run())
    assert not at.error and any(header.value == "Active dataset: geo" for header in at.header)
    assert any(e.label.startswith("1 problem noted while loading") for e in at.expander)
