"""iNat2018 loader on the official archive layout: categories.json names, inat2018_locations/, the
location-less test split, contiguous labels, null locations kept as NaN, mixed and odd dates, bad cases."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from core.data.errors import DatasetError
from core.data.inat import load_inat2018
from tests.data.fixtures import INAT_CATEGORIES, INAT_IMAGES, INAT_TEST_IMAGES, write_inat2018

LOCATIONS = "inat2018_locations/train2018_locations.json"


@pytest.fixture
def inat_root(tmp_path):
    write_inat2018(tmp_path, "train")
    return tmp_path


def test_records_match_what_was_written(inat_root):
    dataset = load_inat2018(inat_root, "train")
    assert dataset.class_names == [INAT_CATEGORIES[c] for c in sorted(INAT_CATEGORIES)]
    assert len(dataset) == len(INAT_IMAGES)
    for index, (image_id, name, category, lat, lon, date) in enumerate(INAT_IMAGES):
        sample = dataset[index]
        assert sample.image == name
        assert sample.label_name == INAT_CATEGORIES[category]
        assert dataset.records.at[index, "image_id"] == image_id
        if lat is None:
            assert math.isnan(sample.lon) and math.isnan(sample.lat) and not sample.has_location
        else:
            assert (sample.lon, sample.lat) == pytest.approx((lon, lat))
        assert sample.timestamp == (pd.Timestamp(date) if date else None)
    assert dataset.has_location.tolist() == [lat is not None for _, _, _, lat, _, _ in INAT_IMAGES]
    assert dataset.load_image(0).mode == "RGB"
    assert dataset.problems == []


def test_labels_are_contiguous(inat_root):
    assert sorted(set(load_inat2018(inat_root).labels.tolist())) == [0, 1, 2]


def test_missing_json(tmp_path):
    with pytest.raises(DatasetError, match=r"val2018\.json: file not found"):
        load_inat2018(tmp_path, "val")


def test_missing_locations_json(inat_root):
    (inat_root / LOCATIONS).unlink()
    expected = (
        r"inat2018_locations/train2018_locations\.json: file not found \(nor train2018_locations\.json beside "
        r"train2018\.json\): unzip inat2018_locations\.zip into "
    )
    with pytest.raises(DatasetError, match=expected):
        load_inat2018(inat_root)


@pytest.mark.parametrize("name", ["train2018.json", LOCATIONS, "categories.json"])
def test_malformed_json(inat_root, name):
    (inat_root / name).write_text('{"images": [')
    with pytest.raises(DatasetError, match=rf"{name.replace('.', '[.]')}: malformed JSON"):
        load_inat2018(inat_root)


def test_location_list_not_matching_images(tmp_path):
    write_inat2018(tmp_path)
    locations = json.loads((tmp_path / LOCATIONS).read_text())
    (tmp_path / LOCATIONS).write_text(json.dumps(locations[:-1]))
    expected = (
        r"locations\.json: the location list does not match the images: "
        r"3 entries for 4 images, 1 images without a location entry \(first: image id 104\)"
    )
    with pytest.raises(DatasetError, match=expected):
        load_inat2018(tmp_path)


def test_images_missing_on_disk(inat_root):
    for _, name, *_ in INAT_IMAGES[1:3]:
        (inat_root / name).unlink()
    with pytest.raises(DatasetError, match=r"train2018\.json: 2 of the 4 images it lists are missing on disk "
                                           r"\(first: train_val2018/Insecta/17/a2\.jpg\)"):
        load_inat2018(inat_root)


def test_out_of_range_location(tmp_path):
    images = [(1, "a.jpg", 5, 123.0, 10.0, None)]
    write_inat2018(tmp_path, images=images)
    with pytest.raises(DatasetError, match=r"locations\.json: image id 1: latitude 123 .* outside \[-90, 90\]"):
        load_inat2018(tmp_path)


def test_file_name_escaping_root(tmp_path):
    write_inat2018(tmp_path / "inat", images=[(1, "../outside.jpg", 5, 1.0, 2.0, None)], write_images=False)
    (tmp_path / "outside.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match="escapes the dataset root"):
        load_inat2018(tmp_path / "inat")


def test_simplified_layout_with_locations_at_the_root(tmp_path):
    write_inat2018(tmp_path, official=False)
    dataset = load_inat2018(tmp_path)
    assert dataset.class_names == [INAT_CATEGORIES[c] for c in sorted(INAT_CATEGORIES)]
    assert dataset.has_location.sum() == 3 and dataset.problems == []


def test_obfuscated_names_without_categories_json_are_reported(inat_root):
    (inat_root / "categories.json").unlink()
    dataset = load_inat2018(inat_root)
    assert dataset.class_names == ["5", "17", "230"]
    assert dataset.problems == [
        "train2018.json: category names are obfuscated numbers; put categories.json "
        "(from categories.json.tar.gz) beside it for the species names"
    ]


def test_categories_json_of_another_dataset_is_refused(inat_root):
    (inat_root / "categories.json").write_text(json.dumps([{"id": 5, "name": "Quercus robur"}]))
    with pytest.raises(DatasetError, match=r"categories\.json: lacks 2 category id\(s\) of train2018\.json \(first: 17\)"):
        load_inat2018(inat_root)


def test_test_split_loads_image_only_with_unknown_locations(inat_root):
    write_inat2018(inat_root, "test", images=INAT_TEST_IMAGES)
    dataset = load_inat2018(inat_root, "test")
    assert [dataset[i].image for i in range(2)] == [name for _, name in INAT_TEST_IMAGES]
    assert dataset.labels.tolist() == [-1, -1] and not dataset.has_location.any()
    assert dataset.class_names == [INAT_CATEGORIES[c] for c in sorted(INAT_CATEGORIES)]
    assert dataset.problems == [
        "test2018: iNat2018 publishes no test locations; every test record's location is unknown"
    ]


def test_unknown_split(inat_root):
    with pytest.raises(DatasetError, match=r"unknown iNat2018 split 'Train'; use one of train, val, test"):
        load_inat2018(inat_root, "Train")


def test_mixed_dates_load_and_an_odd_one_is_unknown_and_reported(tmp_path):
    images = [
        (1, "a.jpg", 5, 10.0, 20.0, "2017-02-11 15:32:00+00:00"),
        (2, "b.jpg", 5, 10.0, 20.0, "2012-07-20 08:00:00-07:00"),
        (3, "c.jpg", 5, 10.0, 20.0, "2016-05-04"),
        (4, "d.jpg", 5, 10.0, 20.0, "2014:06:01 10:00:00"),
        (5, "e.jpg", 5, 10.0, 20.0, "0000-00-00 00:00:00"),
    ]
    write_inat2018(tmp_path, images=images)
    dataset = load_inat2018(tmp_path)
    assert [dataset[i].timestamp for i in range(5)] == [
        pd.Timestamp("2017-02-11T15:32:00Z"),
        pd.Timestamp("2012-07-20T15:00:00Z"),
        pd.Timestamp("2016-05-04T00:00:00Z"),
        pd.Timestamp("2014-06-01T10:00:00Z"),
        None,
    ]
    assert len(dataset.problems) == 1
    assert dataset.problems[0].startswith(
        "train2018_locations.json: image id 5: timestamp '0000-00-00 00:00:00' is not a date/time"
    )
    assert dataset.problems[0].endswith("its time is left unknown")
