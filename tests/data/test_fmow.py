"""fMoW-rgb loader: records, labels, locations, site sequences, extra metadata, and each bad case."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.data.errors import DatasetError
from core.data.fmow import FMOW_CATEGORIES, load_fmow
from tests.data.fixtures import FMOW_SITES, write_file, write_fmow_site, write_fmow_tree


@pytest.fixture
def fmow_root(tmp_path):
    write_fmow_tree(tmp_path, "train")
    return tmp_path


def test_categories():
    assert len(FMOW_CATEGORIES) == 62 == len(set(FMOW_CATEGORIES))
    assert FMOW_CATEGORIES[0] == "airport" and FMOW_CATEGORIES[-1] == "zoo"
    assert "multi-unit_residential" in FMOW_CATEGORIES


def test_records_match_what_was_written(fmow_root):
    dataset = load_fmow(fmow_root, "train")
    assert len(dataset) == sum(len(times) for *_, times in FMOW_SITES)
    assert dataset.class_names == list(FMOW_CATEGORIES)
    for category, site, lon, lat, timestamps in FMOW_SITES:
        for k, timestamp in enumerate(timestamps):
            image = f"train/{category}/{category}_{site}/{category}_{site}_{k}_rgb.jpg"
            row = dataset.records.set_index("image").loc[image]
            assert (row["lon"], row["lat"]) == pytest.approx((lon, lat), abs=1e-6)
            assert FMOW_CATEGORIES[row["label"]] == category
            assert row["site_id"] == f"{category}_{site}"
            assert row["timestamp"] == pd.Timestamp(timestamp)
    assert dataset.records["gsd"].tolist() == pytest.approx([0.52] * len(dataset))
    assert set(dataset.records["country_code"]) == {"USA"}
    assert dataset.records["cloud_cover"].tolist() == [3] * len(dataset)


def test_site_members_are_its_images_in_time_order(fmow_root):
    dataset = load_fmow(fmow_root)
    first = int(dataset.records.index[dataset.records["image"].str.endswith("airport_0_0_rgb.jpg")][0])
    members = dataset.site_members(first)
    assert [dataset.records.at[i, "image"].rsplit("/", 1)[1] for i in members] == [
        "airport_0_1_rgb.jpg",
        "airport_0_2_rgb.jpg",
        "airport_0_0_rgb.jpg",
    ]
    views = dataset.load_views(first)
    assert [caption for caption, _ in views] == ["2014-03-02", "2015-07-09", "2016-05-01"]
    assert all(image.mode == "RGB" for _, image in views)


def test_polygon_across_antimeridian(tmp_path):
    write_fmow_site(tmp_path, "val", "port", 1, 0, 0, ["2017-01-01T00:00:00Z"],
                    raw_location="POLYGON ((179.9 -16, -179.9 -16, -179.9 -15.8, 179.9 -15.8, 179.9 -16))")
    dataset = load_fmow(tmp_path, "val")
    assert abs(dataset.records.at[0, "lon"]) == pytest.approx(180.0, abs=1e-6)
    assert dataset.records.at[0, "lat"] == pytest.approx(-15.9)


def test_missing_split(fmow_root):
    with pytest.raises(DatasetError, match=r"val: the fMoW split folder 'val' does not exist"):
        load_fmow(fmow_root, "val")


def test_unknown_category(fmow_root):
    write_fmow_site(fmow_root, "train", "spaceport", 1, 0, 0, ["2017-01-01T00:00:00Z"])
    with pytest.raises(DatasetError, match=r"spaceport: 'spaceport' is not one of the 62 fMoW categories"):
        load_fmow(fmow_root)


def test_image_without_json(fmow_root):
    (fmow_root / "train/zoo/zoo_3/zoo_3_0_rgb.json").unlink()
    with pytest.raises(DatasetError, match=r"zoo_3_0_rgb\.jpg: image without its metadata file zoo_3_0_rgb\.json"):
        load_fmow(fmow_root)


def test_json_without_image(fmow_root):
    (fmow_root / "train/zoo/zoo_3/zoo_3_0_rgb.jpg").unlink()
    with pytest.raises(DatasetError, match=r"zoo_3_0_rgb\.json: metadata without its image zoo_3_0_rgb\.jpg"):
        load_fmow(fmow_root)


def _edit_json(root, change):
    path = root / "train/zoo/zoo_3/zoo_3_0_rgb.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(raw_location="POLYGON ((1 2, 3"), r"raw_location is not valid WKT"),
        (lambda m: m.update(raw_location="LINESTRING (1 2, 3 4)"), r"must be a non-empty POLYGON, found LineString"),
        (lambda m: m.update(raw_location="POLYGON ((10 95, 11 95, 11 96, 10 95))"), r"coordinates out of range"),
        (lambda m: m.update(raw_location="POLYGON ((190 5, 191 5, 191 6, 190 5))"), r"coordinates out of range"),
        (lambda m: m.update(timestamp="last tuesday"), r"timestamp 'last tuesday' is not a date/time"),
        (lambda m: m.update(timestamp=""), r"'timestamp' field is empty"),
        (lambda m: m.pop("raw_location"), r"missing the 'raw_location' field"),
    ],
    ids=["bad-wkt", "not-polygon", "lat-range", "lon-range", "bad-timestamp", "empty-timestamp", "no-location"],
)
def test_bad_metadata_names_file_and_problem(fmow_root, change, message):
    _edit_json(fmow_root, change)
    with pytest.raises(DatasetError, match=r"zoo_3_0_rgb\.json: .*" + message):
        load_fmow(fmow_root)


def test_malformed_json(fmow_root):
    write_file(fmow_root / "train/zoo/zoo_3/zoo_3_0_rgb.json", b"{not json")
    with pytest.raises(DatasetError, match=r"zoo_3_0_rgb\.json: malformed JSON"):
        load_fmow(fmow_root)


def test_empty_split(tmp_path):
    (tmp_path / "test").mkdir()
    with pytest.raises(DatasetError, match="no fMoW images"):
        load_fmow(tmp_path, "test")
