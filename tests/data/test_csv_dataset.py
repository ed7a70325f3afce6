"""GeoImageNet-style CSV loader: values, class names, and line numbers in every error."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.data.csv_dataset import load_geo_csv
from core.data.errors import DatasetError
from tests.data.fixtures import CSV_ROWS, photo_bytes, write_file, write_geo_csv


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
        (_bad(path="../../etc/passwd"), r"line 3: path escapes the dataset root"),
        (_bad(path=""), r"line 3: the path is empty"),
    ],
    ids=["lat-text", "lat-range", "lon-range", "one-missing", "escape", "empty-path"],
)
def test_bad_rows_name_file_and_line(tmp_path, rows, message):
    write_geo_csv(tmp_path / "geo.csv", CSV_ROWS)  # the images exist ...
    csv_path = write_geo_csv(tmp_path / "geo.csv", rows, write_images=False)  # ... the CSV has a bad row
    with pytest.raises(DatasetError, match=r"geo\.csv: " + message):
        load_geo_csv(csv_path)


def test_missing_column(tmp_path):
    rows = [{"path": "a.jpg", "label": "x", "y": "1", "lon": "2"}]
    with pytest.raises(DatasetError, match=r"geo\.csv: line 1: the header lacks column\(s\) lat \(or latitude\)"):
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


# --- CSVs as spreadsheets and other tools really write them ----------------------------------------

def _write_images(root, *relative):
    for name in relative:
        write_file(root / name, photo_bytes())


def test_semicolon_bom_decimal_commas_backslash_paths_and_exif_times(tmp_path):
    """A European Excel export: ';' delimiter, UTF-8 BOM, CRLF, decimal commas, Windows paths, EXIF-style times."""
    _write_images(tmp_path, "images/n01/cat_1.jpg", "images/n02/dog.jpg")
    text = (
        "Filename;Class;Latitude;Longitude;Date\r\n"
        "images\\n01\\cat_1.jpg;tabby;48,8566;2,3522;2019:04:01 12:00:00\r\n"
        "images\\n02\\dog.jpg;beagle;35,6762;139,6503;\r\n"
    )
    (tmp_path / "geo.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    dataset = load_geo_csv(tmp_path / "geo.csv")
    assert dataset.class_names == ["beagle", "tabby"]
    assert dataset.lonlat.ravel().tolist() == pytest.approx([2.3522, 48.8566, 139.6503, 35.6762])
    assert [dataset[i].image for i in range(2)] == ["images/n01/cat_1.jpg", "images/n02/dog.jpg"]
    assert dataset[0].timestamp == pd.Timestamp("2019-04-01T12:00:00Z")
    assert dataset.load_image(1).mode == "RGB" and dataset.problems == []


def test_tab_delimited_latin1(tmp_path):
    _write_images(tmp_path, "a.jpg", "b.jpg")
    text = "file\tcategory\tlat\tlng\ttimestamp\na.jpg\tléopard\t-1.5\t36.8\t2018-07-01T08:00:00+03:00\nb.jpg\tzèbre\t-2\t35\t\n"
    (tmp_path / "geo.tsv").write_bytes(text.encode("latin-1"))
    dataset = load_geo_csv(tmp_path / "geo.tsv")
    assert dataset.class_names == ["léopard", "zèbre"]
    assert dataset.lonlat.ravel().tolist() == pytest.approx([36.8, -1.5, 35.0, -2.0])
    assert dataset[0].timestamp == pd.Timestamp("2018-07-01T05:00:00Z")


@pytest.mark.parametrize(
    "header",
    ["path,label,lat,lon", "PATH,Label,LAT,LON", "image,class,latitude,longitude", " filename , category , Lat , Long "],
)
def test_header_aliases_in_any_case(tmp_path, header):
    _write_images(tmp_path, "a.jpg")
    (tmp_path / "geo.csv").write_text(f"{header}\na.jpg,x,10,20\n")
    assert load_geo_csv(tmp_path / "geo.csv").lonlat.tolist() == [[20.0, 10.0]]


def test_a_field_given_twice_is_refused(tmp_path):
    (tmp_path / "geo.csv").write_text("path,label,lat,latitude,lon\na.jpg,x,1,1,2\n")
    with pytest.raises(DatasetError, match=r"geo\.csv: line 1: columns 'lat' and 'latitude' both give the lat; keep one"):
        load_geo_csv(tmp_path / "geo.csv")


def test_bad_rows_skipped_on_request_with_their_line_numbers(tmp_path):
    _write_images(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    (tmp_path / "geo.csv").write_text(
        "path,label,lat,lon\na.jpg,x,10,20\n\nb.jpg,x,north,20\nc.jpg,y,11,21\ngone.jpg,y,1,2\n"
    )
    with pytest.raises(DatasetError, match=r"geo\.csv: line 4: lat 'north' is not a number"):
        load_geo_csv(tmp_path / "geo.csv")
    dataset = load_geo_csv(tmp_path / "geo.csv", on_bad_rows="skip")
    assert [dataset[i].image for i in range(len(dataset))] == ["a.jpg", "c.jpg"]
    assert dataset.problems == [
        "geo.csv: line 4: lat 'north' is not a number; row left out",
        f"geo.csv: line 6: image gone.jpg not found under {tmp_path.resolve()}; row left out",
    ]


def test_all_rows_bad_or_unknown_choice(tmp_path):
    (tmp_path / "geo.csv").write_text("path,label,lat,lon\ngone.jpg,x,1,2\n")
    with pytest.raises(DatasetError, match=r"geo\.csv: none of its 1 rows can be used \(geo\.csv: line 2: image gone\.jpg"):
        load_geo_csv(tmp_path / "geo.csv", on_bad_rows="skip")
    with pytest.raises(DatasetError, match=r"on_bad_rows must be one of fail, skip, got 'ignore'"):
        load_geo_csv(tmp_path / "geo.csv", on_bad_rows="ignore")


def test_an_odd_timestamp_is_unknown_and_reported(tmp_path):
    csv_path = write_geo_csv(tmp_path / "geo.csv", _bad(timestamp="yesterday"))
    dataset = load_geo_csv(csv_path)
    assert len(dataset) == 3 and dataset[1].timestamp is None
    assert dataset.problems == [
        "geo.csv: line 3: timestamp 'yesterday' is not a date/time (expected ISO 8601 like 2017-02-11 15:32:00+00:00, "
        "or EXIF-style 2017:02:11 15:32:00); its time is left unknown"
    ]
