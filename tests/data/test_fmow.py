"""fMoW-rgb loader: records, labels, locations, site sequences, products, object boxes, the ground-truth
join for GPS-stripped and anonymous test/seq folders, and each bad case."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.data.base import CROP_COLUMNS, GeoImageDataset
from core.data.errors import DatasetError
from core.data.fmow import FMOW_CATEGORIES, FMOW_PRODUCTS, load_fmow
from core.data.loaders import load_user_dataset
from tests.data.fixtures import (
    FMOW_BOXES,
    FMOW_SITES,
    write_file,
    write_fmow_anonymous_split,
    write_fmow_ground_truth,
    write_fmow_site,
    write_fmow_tree,
)


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
        (lambda m: m.pop("raw_location"), r"has no 'raw_location' \(GPS is stripped .* in train_gt/zoo/zoo_3/zoo_3_0_rgb\.json of"),
        (lambda m: m.update(bounding_boxes="big"), r"bounding_boxes must be a list of boxes, found str"),
        (lambda m: m.update(bounding_boxes=[{"box": [1, 2, 3]}]), r"bounding_boxes\[0\] must hold a 'box' \[x, y, width, height\]"),
        (lambda m: m.update(bounding_boxes=[{"box": [1, 2, "3", 4]}]), r"bounding_boxes\[0\] must hold a 'box'"),
        (lambda m: m.update(bounding_boxes=[{"box": [1, 2, 0, 4]}]), r"bounding_boxes\[0\]: box \[1, 2, 0, 4\] needs x, y >= 0 and a positive"),
    ],
    ids=["bad-wkt", "not-polygon", "lat-range", "lon-range", "no-location", "boxes-not-list", "box-three-values", "box-text", "box-zero-width"],
)
def test_bad_metadata_names_file_and_problem(fmow_root, change, message):
    _edit_json(fmow_root, change)
    with pytest.raises(DatasetError, match=r"zoo_3_0_rgb\.json: .*" + message):
        load_fmow(fmow_root)


@pytest.mark.parametrize(
    "change",
    [lambda m: m.update(timestamp=""), lambda m: m.pop("timestamp"), lambda m: m.update(timestamp="last tuesday")],
    ids=["empty", "missing", "odd"],
)
def test_an_odd_or_missing_timestamp_is_unknown_and_an_odd_one_reported(fmow_root, change):
    _edit_json(fmow_root, change)
    dataset = load_fmow(fmow_root)
    row = dataset.records.index[dataset.records["image"] == "train/zoo/zoo_3/zoo_3_0_rgb.jpg"][0]
    assert pd.isna(dataset.records.at[row, "timestamp"])
    assert dataset.records["timestamp"].notna().sum() == len(dataset) - 1
    odd = "last tuesday" in (fmow_root / "train/zoo/zoo_3/zoo_3_0_rgb.json").read_text()
    reported = [p for p in dataset.problems if "zoo_3_0_rgb.json" in p and "time is left unknown" in p]
    assert len(reported) == int(odd)


def test_malformed_json(fmow_root):
    write_file(fmow_root / "train/zoo/zoo_3/zoo_3_0_rgb.json", b"{not json")
    with pytest.raises(DatasetError, match=r"zoo_3_0_rgb\.json: malformed JSON"):
        load_fmow(fmow_root)


def test_empty_split(tmp_path):
    (tmp_path / "test").mkdir()
    with pytest.raises(DatasetError, match="no fMoW images"):
        load_fmow(tmp_path, "test")


# --- products and object boxes --------------------------------------------------------------------


def test_a_site_folder_holds_both_products_and_rgb_is_the_default(fmow_root):
    site = sorted(p.name for p in (fmow_root / "train/zoo/zoo_3").iterdir())
    assert site == ["zoo_3_0_msrgb.jpg", "zoo_3_0_msrgb.json", "zoo_3_0_rgb.jpg", "zoo_3_0_rgb.json"]
    rgb, msrgb = load_fmow(fmow_root), load_fmow(fmow_root, product="msrgb")
    assert len(rgb) == len(msrgb) == sum(len(times) for *_, times in FMOW_SITES)
    assert rgb.records["image"].str.endswith("_rgb.jpg").all() and rgb.name == "fMoW-rgb train"
    assert msrgb.records["image"].str.endswith("_msrgb.jpg").all() and msrgb.name == "fMoW-msrgb train"
    assert msrgb.records["gsd"].tolist() == pytest.approx([2.08] * len(msrgb))


def test_an_unknown_product_is_refused(fmow_root):
    with pytest.raises(DatasetError, match=r"product must be one of rgb, msrgb \(fMoW-rgb image kinds\), not 'pan'"):
        load_fmow(fmow_root, product="pan")


@pytest.mark.parametrize("product", FMOW_PRODUCTS)
def test_the_object_box_goes_to_the_crop_columns(fmow_root, product):
    records = load_fmow(fmow_root, product=product).records
    assert records[list(CROP_COLUMNS)].dtypes.eq("float64").all()
    assert records[list(CROP_COLUMNS)].to_numpy().tolist() == [FMOW_BOXES[product]] * len(records)


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ({"category": "zoo", "box": [1, 2, 3, 4], "ID": 5}, [1, 2, 3, 4]),  # one box, not in a list
        ([{"category": "zoo", "box": [1, 1, 9, 9], "ID": -1}, {"category": "zoo", "box": [2, 2, 5, 5], "ID": 7}], [2, 2, 5, 5]),
        ([{"category": "false_detection", "box": [0, 0, 4, 4], "ID": 3}, {"category": "zoo", "box": [8, 8, 2, 2], "ID": 4}], [8, 8, 2, 2]),
        ([{"box": [3, 4, 5, 6], "ID": 9}], [3, 4, 5, 6]),  # test/seq challenge JSONs name no category
        ([], [None] * 4),
    ],
    ids=["single-dict", "skip-id-minus-1", "site-category-first", "no-category", "no-box"],
)
def test_which_box_is_the_labelled_object(fmow_root, boxes, expected):
    _edit_json(fmow_root, lambda m: m.update(bounding_boxes=boxes))
    records = load_fmow(fmow_root).records.set_index("image")
    box = records.loc["train/zoo/zoo_3/zoo_3_0_rgb.jpg", list(CROP_COLUMNS)].tolist()
    assert [None if pd.isna(v) else v for v in box] == expected


def test_crop_columns_survive_the_dataset_and_change_its_fingerprint(fmow_root):
    dataset = load_fmow(fmow_root)
    subset = GeoImageDataset("subset", dataset.root, dataset.records.iloc[::2], dataset.class_names)
    assert subset.records[list(CROP_COLUMNS)].to_numpy().tolist() == [FMOW_BOXES["rgb"]] * len(subset)
    moved = dataset.records.assign(crop_x=dataset.records["crop_x"] + 1)
    assert GeoImageDataset("moved", dataset.root, moved, dataset.class_names).fingerprint() != dataset.fingerprint()
    with pytest.raises(ValueError, match=r"has crop columns \['crop_x'\] but not all of"):
        GeoImageDataset("partial", dataset.root, dataset.records.drop(columns=["crop_y", "crop_w", "crop_h"]), [])


@pytest.mark.parametrize("name", ["photo.jpg", "zoo_3_0_pan.jpg", "zoo_4_0_rgb.json", "zoo_3_x_rgb.jpg"])
def test_a_file_not_named_as_fmow_names_them(fmow_root, name):
    write_file(fmow_root / "train/zoo/zoo_3" / name, b"")
    suffix = name.rsplit(".", 1)[1]
    with pytest.raises(DatasetError, match=rf"{name}: fMoW files are named zoo_3_<k>_<product>\.{suffix} \(product rgb or msrgb\)"):
        load_fmow(fmow_root)


# --- challenge-era JSONs, anonymous test/seq folders and the ground truth ------------------------


def _expected_rows():
    """(site id, label, lon, lat, timestamp) per rgb image of FMOW_SITES."""
    return sorted(
        (f"{category}_{site}", FMOW_CATEGORIES.index(category), lon, lat, pd.Timestamp(timestamp))
        for category, site, lon, lat, times in FMOW_SITES
        for timestamp in times
    )


def _rows(dataset):
    records = dataset.records
    return sorted(zip(records["site_id"], records["label"], records["lon"].round(6), records["lat"].round(6), records["timestamp"]))


def _assert_matches_sites(dataset):
    got = _rows(dataset)
    expected = _expected_rows()
    assert [row[:2] + (row[4],) for row in got] == [row[:2] + (row[4],) for row in expected]
    assert [row[2:4] for row in got] == pytest.approx([row[2:4] for row in expected], abs=1e-6)


def test_gps_stripped_jsons_say_which_ground_truth_file_is_needed(tmp_path):
    write_fmow_tree(tmp_path, "train", gps=False)
    with pytest.raises(DatasetError) as info:
        load_fmow(tmp_path)
    assert info.value.path == tmp_path / "train/airport/airport_0/airport_0_0_rgb.json"
    assert info.value.problem == (
        "has no 'raw_location' (GPS is stripped from the challenge-era fMoW JSONs); it is in "
        "train_gt/airport/airport_0/airport_0_0_rgb.json of the fMoW ground truth (groundtruth.tar.bz2): "
        "extract that archive into the dataset folder or name its folder with the ground_truth option"
    )


def test_ground_truth_extracted_in_the_dataset_folder_is_joined(tmp_path):
    write_fmow_tree(tmp_path, "train", gps=False)
    write_fmow_ground_truth(tmp_path, "train", FMOW_SITES)
    dataset = load_fmow(tmp_path)
    _assert_matches_sites(dataset)
    # the ground truth's scored box (ID 1), not its ID -1 box, is the object
    assert dataset.records[list(CROP_COLUMNS)].to_numpy().tolist() == [FMOW_BOXES["rgb"]] * len(dataset)


def test_ground_truth_is_the_authority_over_the_json_beside_the_image(tmp_path):
    write_fmow_tree(tmp_path, "train")  # JSONs with GPS …
    write_fmow_site(tmp_path, "train", "zoo", 3, 10.0, 10.0, ["2013-06-15T11:00:00Z"])  # … one of them wrong
    write_fmow_ground_truth(tmp_path, "train", FMOW_SITES)
    _assert_matches_sites(load_fmow(tmp_path))


def test_ground_truth_in_its_own_folder_through_the_registry(data_root):
    write_fmow_tree(data_root / "fmow", "val", gps=False)
    write_fmow_ground_truth(data_root / "fmow-groundtruth", "val", FMOW_SITES)
    dataset = load_user_dataset("fmow", "fmow", split="val", ground_truth="fmow-groundtruth")
    _assert_matches_sites(dataset)
    with pytest.raises(DatasetError, match="datasets must be inside the data folder"):
        load_user_dataset("fmow", "fmow", split="val", ground_truth="../elsewhere")
    (data_root / "fmow/train").mkdir()
    with pytest.raises(DatasetError, match=r"fmow/train_gt: the fMoW ground truth has no train_gt folder here: extract groundtruth\.tar\.bz2 into"):
        load_user_dataset("fmow", "fmow", split="train", ground_truth="fmow")
    with pytest.raises(DatasetError, match=r"nowhere: the fMoW ground-truth folder does not exist"):
        load_user_dataset("fmow", "fmow", split="val", ground_truth="nowhere")


def test_a_ground_truth_lacking_an_image_names_the_file(tmp_path):
    write_fmow_tree(tmp_path, "train", gps=False)
    write_fmow_ground_truth(tmp_path, "train", FMOW_SITES)
    (tmp_path / "train_gt/zoo/zoo_3/zoo_3_0_rgb.json").unlink()
    with pytest.raises(DatasetError, match=r"train_gt/zoo/zoo_3/zoo_3_0_rgb\.json: file not found: the ground truth lacks the metadata of zoo_3_0_rgb\.jpg"):
        load_fmow(tmp_path)


@pytest.mark.parametrize("split", ["test", "seq"])
def test_anonymous_test_and_seq_folders_are_matched_by_the_ground_truth(tmp_path, split):
    anonymous_ids = write_fmow_anonymous_split(tmp_path, split)
    first = anonymous_ids["airport", 0]
    assert sorted(p.name for p in (tmp_path / split / first).iterdir())[:4] == [
        f"{first}_0_msrgb.jpg", f"{first}_0_msrgb.json", f"{first}_0_rgb.jpg", f"{first}_0_rgb.json"
    ]
    dataset = load_fmow(tmp_path, split)
    _assert_matches_sites(dataset)
    assert set(dataset.records["image"]) == {
        f"{split}/{anonymous_ids[category, site]}/{anonymous_ids[category, site]}_{k}_rgb.jpg"
        for category, site, *_, times in FMOW_SITES
        for k in range(len(times))
    }
    index = int(dataset.records.index[dataset.records["image"] == f"{split}/{first}/{first}_0_rgb.jpg"][0])
    assert len(dataset.site_members(index)) == 3 and dataset[index].label_name == "airport"


def test_anonymous_folders_without_ground_truth_say_which_files_are_needed(tmp_path):
    anonymous_ids = write_fmow_anonymous_split(tmp_path, "test")
    (tmp_path / "test_gt").rename(tmp_path / "elsewhere")
    first = anonymous_ids["airport", 0]
    with pytest.raises(DatasetError, match=rf"{first}_0_rgb\.json: has no 'raw_location' .* it is in test_gt_mapping\.json and test_gt/ of the fMoW ground truth"):
        load_fmow(tmp_path, "test")


def test_anonymous_folders_with_gps_but_no_ground_truth_load_unlabelled(tmp_path):
    write_fmow_site(tmp_path, "test", "zoo", 3, -0.1553, 51.5353, ["2013-06-15T11:00:00Z"], anonymous_id="0000042")
    dataset = load_fmow(tmp_path, "test")
    assert dataset.records[["site_id", "label"]].values.tolist() == [["0000042", -1]]


def test_an_anonymous_folder_missing_from_the_mapping(tmp_path):
    write_fmow_anonymous_split(tmp_path, "test")
    write_fmow_site(tmp_path, "test", "zoo", 3, 0, 0, ["2013-06-15T11:00:00Z"], anonymous_id="9999999", gps=False)
    with pytest.raises(DatasetError, match=r"test/9999999: the anonymous folder is not listed in test_gt_mapping\.json"):
        load_fmow(tmp_path, "test")


def test_a_missing_mapping_file_is_named(tmp_path):
    write_fmow_anonymous_split(tmp_path, "seq")
    (tmp_path / "seq_gt_mapping.json").unlink()
    with pytest.raises(DatasetError, match=r"seq_gt_mapping\.json: file not found: the anonymous seq/ folders are matched to their sites by this file"):
        load_fmow(tmp_path, "seq")


@pytest.mark.parametrize(
    "entry",
    [
        {"input": "test_gt/../../etc", "output": "test/0011978"},
        {"input": "test_gt/spaceport/spaceport_1", "output": "test/0011978"},
        {"input": "val_gt/zoo/zoo_3", "output": "test/0011978"},
        {"input": "test_gt/zoo/zoo_3", "output": "test/../x"},
        ["test_gt/zoo/zoo_3", "test/0011978"],
    ],
    ids=["traversal", "unknown-category", "other-split", "bad-output", "not-an-object"],
)
def test_a_malformed_mapping_entry_is_refused(tmp_path, entry):
    write_fmow_anonymous_split(tmp_path, "test")
    write_file(tmp_path / "test_gt_mapping.json", json.dumps([entry]).encode())
    with pytest.raises(DatasetError, match=r"test_gt_mapping\.json: entry 0 should be \{'input': 'test_gt/<category>/<category>_<n>'"):
        load_fmow(tmp_path, "test")
