"""iNat2018 loader: contiguous labels, null locations kept as NaN, dates, and each bad case."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from core.data.errors import DatasetError
from core.data.inat import load_inat2018
from tests.data.fixtures import INAT_CATEGORIES, INAT_IMAGES, write_inat2018


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


def test_labels_are_contiguous(inat_root):
    assert sorted(set(load_inat2018(inat_root).labels.tolist())) == [0, 1, 2]


def test_missing_json(tmp_path):
    with pytest.raises(DatasetError, match=r"val2018\.json: file not found"):
        load_inat2018(tmp_path, "val")


def test_missing_locations_json(inat_root):
    (inat_root / "train2018_locations.json").unlink()
    with pytest.raises(DatasetError, match=r"train2018_locations\.json: file not found"):
        load_inat2018(inat_root)


@pytest.mark.parametrize("name", ["train2018.json", "train2018_locations.json"])
def test_malformed_json(inat_root, name):
    (inat_root / name).write_text('{"images": [')
    with pytest.raises(DatasetError, match=rf"{name.replace('.', '[.]')}: malformed JSON"):
        load_inat2018(inat_root)


def test_location_list_not_matching_images(tmp_path):
    write_inat2018(tmp_path)
    locations = json.loads((tmp_path / "train2018_locations.json").read_text())
    (tmp_path / "train2018_locations.json").write_text(json.dumps(locations[:-1]))
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
