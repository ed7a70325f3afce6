"""GeoImageNet-style CSV loader: values, class names, and line numbers in every error."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.data.csv_dataset import load_geo_csv
from core.data.errors import DatasetError
from tests.data.fixtures import CSV_ROWS, write_geo_csv


def test_records_match_what_was_written(tmp_path):
    dataset = load_geo_csv(write_geo_csv(tmp_path / "geo.csv"))
    assert dataset.class_names == ["beagle", "tabby"]
    assert [dataset[i].label_name for i in range(3)] == ["tabby", "tabby", "beagle"]
    for index, row in enumerate(CSV_ROWS):
        assert (dataset[index].lat, dataset[index].lon) == pytest.approx((float(row["lat"]), float(row["lon"])))
        assert dataset[index].image == row["path"]
    assert dataset[0].timestamp == pd.Timestamp("2019-04-01T12:00:00Z")
    assert dataset[1].timestamp is None
    assert dataset.load_image(2).mode == "RGB"


def test_separate_image_root_and_optional_columns(tmp_path):
    rows = [
        {"path": "x.jpg", "label": "", "lat": "", "lon": ""},
        {"path": "y.jpg", "label": "a", "lat": "1", "lon": "2"},
    ]
    dataset = load_geo_csv(write_geo_csv(tmp_path / "meta/geo.csv", rows, tmp_path / "pics"), tmp_path / "pics")
    assert dataset.root == (tmp_path / "pics").resolve()
    assert dataset.labels.tolist() == [-1, 0]
    assert math.isnan(dataset[0].lat) and dataset.has_location.tolist() == [False, True]


def _bad(**changes) -> list[dict]:
    rows = [dict(row) for row in CSV_ROWS]
    rows[1].update(changes)
    return rows


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (_bad(lat="north"), r"line 3: lat 'north' is not a number"),
        (_bad(lat="91"), r"line 3: latitude 91 .* outside \[-90, 90\]"),
        (_bad(lon="-181"), r"line 3: longitude -181 is outside \[-180, 180\]"),
        (_bad(lon=""), r"line 3: coordinate 0 is not finite"),
        (_bad(timestamp="yesterday"), r"line 3: timestamp 'yesterday' is not an ISO 8601"),
        (_bad(path="../../etc/passwd"), r"line 3: path escapes the dataset root"),
        (_bad(path=""), r"line 3: the path is empty"),
    ],
    ids=["lat-text", "lat-range", "lon-range", "one-missing", "timestamp", "escape", "empty-path"],
)
def test_bad_rows_name_file_and_line(tmp_path, rows, message):
    write_geo_csv(tmp_path / "geo.csv", CSV_ROWS)  # the images exist ...
    csv_path = write_geo_csv(tmp_path / "geo.csv", rows, write_images=False)  # ... the CSV has a bad row
    with pytest.raises(DatasetError, match=r"geo\.csv: " + message):
        load_geo_csv(csv_path)


def test_missing_column(tmp_path):
    rows = [{"path": "a.jpg", "label": "x", "latitude": "1", "lon": "2"}]
    with pytest.raises(DatasetError, match=r"geo\.csv: line 1: the header lacks column\(s\) lat"):
        load_geo_csv(write_geo_csv(tmp_path / "geo.csv", rows))


def test_missing_images(tmp_path):
    csv_path = write_geo_csv(tmp_path / "geo.csv")
    (tmp_path / CSV_ROWS[1]["path"]).unlink()
    (tmp_path / CSV_ROWS[2]["path"]).unlink()
    expected = r"geo\.csv: 2 image\(s\) not found under .* \(first: line 3, images/n01/cat_2\.jpg\)"
    with pytest.raises(DatasetError, match=expected):
        load_geo_csv(csv_path)


def test_missing_csv_and_header_only(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.csv: file not found"):
        load_geo_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("path,label,lat,lon\n")
    with pytest.raises(DatasetError, match=r"empty\.csv: has a header but no rows"):
        load_geo_csv(tmp_path / "empty.csv")


def test_symlink_leaving_root_is_refused(tmp_path):
    outside = tmp_path / "outside.jpg"
    write_geo_csv(tmp_path / "x.csv", [{"path": "outside.jpg", "label": "a", "lat": "1", "lon": "2"}])
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds/link.jpg").symlink_to(outside)
    csv_path = write_geo_csv(tmp_path / "ds/geo.csv", [{"path": "link.jpg", "label": "a", "lat": "1", "lon": "2"}],
                             write_images=False)
    with pytest.raises(DatasetError, match=r"line 2: path escapes the dataset root"):
        load_geo_csv(csv_path)
