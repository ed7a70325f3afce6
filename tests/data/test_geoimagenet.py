"""GeoImageNet loader on the downloader's exact output: records, -1000 as unknown, and each bad case."""

from __future__ import annotations

import math

import pytest

from core.data.errors import DatasetError
from core.data.geoimagenet import load_geoimagenet
from core.data.loaders import load_user_dataset
from tests.data.fixtures import GEOIMAGENET_PHOTOS, write_file, write_geoimagenet


@pytest.fixture
def geoin(tmp_path):
    return write_geoimagenet(tmp_path / "geoimagenet")


def _append(root, line: str) -> None:
    with (root / "metadata.csv").open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def test_the_fixture_is_the_downloaders_layout(geoin):
    lines = (geoin / "metadata.csv").read_text().splitlines()
    assert lines[0] == "4156735981,36.600200,-121.894700,Monterey,United States,California,Monterey"  # no header
    assert lines[1] == "2398715123,-1000.0,-1000.0,,,,"
    assert lines[2] == '5093422113,52.205300,0.121800,"Cambridge, Newnham",United Kingdom,England,Cambridgeshire'
    assert lines[-1] == lines[0]  # a rerun appends again
    assert sorted(p.relative_to(geoin).as_posix() for p in geoin.rglob("*.jpg"))[0] == "imagenet_images/goldfish/318855412.jpg"


def test_records_labels_and_places(geoin):
    dataset = load_geoimagenet(geoin)
    assert dataset.class_names == ["goldfish", "great white shark", "tench"]
    assert dataset.problems == []
    records = dataset.records.set_index("flickr_id")
    assert len(records) == len(GEOIMAGENET_PHOTOS)
    for class_name, flickr_id, lat, lon, locality, country, region, county in GEOIMAGENET_PHOTOS:
        row = records.loc[str(flickr_id)]
        assert row["image"] == f"imagenet_images/{class_name.replace(' ', '_')}/{flickr_id}.jpg"
        assert dataset.class_names[row["label"]] == class_name
        if lat == -1000.0:
            assert math.isnan(row["lon"]) and math.isnan(row["lat"])
        else:
            assert (row["lon"], row["lat"]) == pytest.approx((float(lon), float(lat)))
        assert [row["locality"], row["country"], row["region"], row["county"]] == [locality, country, region, county]
    assert dataset.has_location.tolist().count(False) == 1
    assert dataset.load_image(0).size == (224, 224)


def test_one_missing_coordinate_makes_the_location_unknown(tmp_path):
    photos = [("tench", 7, "52.2", -1000.0, "", "", "", ""), ("tench", 8, "1.5", "2.5", "", "", "", "")]
    dataset = load_geoimagenet(write_geoimagenet(tmp_path, photos))
    assert dataset.has_location.tolist() == [False, True]


def test_loads_through_the_registry(data_root):
    write_geoimagenet(data_root / "geoin")
    assert len(load_user_dataset("geoimagenet", "geoin")) == len(GEOIMAGENET_PHOTOS)


def test_a_header_line_is_tolerated(tmp_path):
    write_file(tmp_path / "metadata.csv", b"id,lat,lon,locality,country,region,county\n")
    write_geoimagenet(tmp_path)
    assert len(load_geoimagenet(tmp_path)) == len(GEOIMAGENET_PHOTOS)


def test_a_photo_without_a_row_is_skipped_and_reported(geoin):
    write_file(geoin / "imagenet_images/tench/999.jpg", b"")
    dataset = load_geoimagenet(geoin)
    assert len(dataset) == len(GEOIMAGENET_PHOTOS)
    assert dataset.problems == ["imagenet_images/tench/999.jpg: no row for photo 999 in metadata.csv"]


def test_no_photo_with_a_row(tmp_path):
    write_geoimagenet(tmp_path)
    (tmp_path / "metadata.csv").write_text("")
    with pytest.raises(DatasetError, match=r"imagenet_images: none of the 4 photos has a row in metadata\.csv"):
        load_geoimagenet(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("123,1.0,2.0,a,b,c", r"line 6: expected 7 fields id,lat,lon,locality,country,region,county, found 6"),
        ("abc,1.0,2.0,,,,", r"line 6: id 'abc' is not a Flickr photo id \(digits\)"),
        ("123,north,2.0,,,,", r"line 6: lat 'north' is not a number"),
        ("123,95.0,2.0,,,,", r"line 6: .*latitude"),
        ("123,1.0,200.0,,,,", r"line 6: longitude 200 is outside \[-180, 180\]"),
        ("4156735981,1.0,2.0,,,,", r"line 6: photo 4156735981 already has another location on line 1"),
        ('123,1.0,2.0,"unclosed,,,,', r"line 6: expected 7 fields"),
    ],
    ids=["six-fields", "bad-id", "bad-lat", "lat-range", "lon-range", "conflicting-repeat", "unclosed-quote"],
)
def test_a_malformed_row_names_its_line(geoin, line, message):
    _append(geoin, line)
    with pytest.raises(DatasetError, match=r"metadata\.csv: " + message):
        load_geoimagenet(geoin)


def test_not_utf8(geoin):
    with (geoin / "metadata.csv").open("ab") as handle:
        handle.write(b"123,1.0,2.0,M\xfcnchen,,,\n")
    with pytest.raises(DatasetError, match=r"metadata\.csv: not a readable UTF-8 CSV"):
        load_geoimagenet(geoin)


def test_missing_images_folder_and_metadata(tmp_path):
    with pytest.raises(DatasetError, match=r"imagenet_images: folder not found: the GeoImageNet downloader writes"):
        load_geoimagenet(tmp_path)
    (tmp_path / "imagenet_images").mkdir()
    with pytest.raises(DatasetError, match=r"metadata\.csv: file not found: the GeoImageNet downloader writes it beside"):
        load_geoimagenet(tmp_path)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("imagenet_images/stray.jpg", r"stray\.jpg: expected only class folders in imagenet_images/"),
        ("imagenet_images/tench/photo.jpg", r"photo\.jpg: GeoImageNet photos are named <flickr photo id>\.jpg"),
        ("imagenet_images/tench/123.png", r"123\.png: GeoImageNet photos are named"),
    ],
    ids=["file-outside-a-class", "not-an-id", "not-jpg"],
)
def test_a_malformed_folder_names_the_file(geoin, path, message):
    write_file(geoin / path, b"")
    with pytest.raises(DatasetError, match=message):
        load_geoimagenet(geoin)


def test_symlinked_metadata_leaving_the_dataset_is_refused(geoin, tmp_path):
    outside = tmp_path / "outside.csv"
    (geoin / "metadata.csv").rename(outside)
    (geoin / "metadata.csv").symlink_to(outside)
    with pytest.raises(DatasetError, match="escapes the dataset root"):
        load_geoimagenet(geoin)
