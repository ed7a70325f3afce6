"""The format registry and the data-root guard on user-supplied paths."""

from __future__ import annotations

import pytest

from core.data.errors import DatasetError
from core.data.loaders import DATASET_FORMATS, load_user_dataset
from tests.data.fixtures import jpeg_with_gps_bytes, write_file, write_fmow_tree, write_geo_csv, write_inat2018


def test_registry():
    assert set(DATASET_FORMATS) == {"fmow", "inat2018", "geo_csv", "geoimagenet", "photo_folder"}
    assert all(spec.description and callable(spec.loader) for spec in DATASET_FORMATS.values())


def test_each_format_loads_from_inside_the_data_root(data_root):
    write_fmow_tree(data_root / "fmow")
    write_inat2018(data_root / "inat")
    write_geo_csv(data_root / "csv/geo.csv")
    write_file(data_root / "photos/p.jpg", jpeg_with_gps_bytes(1.0, 2.0))
    assert len(load_user_dataset("fmow", data_root / "fmow", split="train")) == 8
    assert len(load_user_dataset("inat2018", "inat")) == 4  # relative to the data root
    assert len(load_user_dataset("geo_csv", "csv/geo.csv", image_root="csv")) == 3
    assert len(load_user_dataset("photo_folder", "photos")) == 1


@pytest.mark.parametrize("path", ["../elsewhere", "/etc", "photos/../../elsewhere"])
def test_paths_outside_the_data_root_are_refused(data_root, path):
    with pytest.raises(DatasetError, match="datasets must be inside the data folder"):
        load_user_dataset("photo_folder", path)


def test_symlink_out_of_the_data_root_is_refused(data_root, tmp_path):
    write_file(tmp_path / "elsewhere/p.jpg", jpeg_with_gps_bytes(1.0, 2.0))
    (data_root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(DatasetError, match="datasets must be inside the data folder"):
        load_user_dataset("photo_folder", "link")


def test_image_root_option_is_guarded_too(data_root, tmp_path):
    write_geo_csv(data_root / "geo.csv")
    with pytest.raises(DatasetError, match="datasets must be inside the data folder"):
        load_user_dataset("geo_csv", "geo.csv", image_root=tmp_path)


def test_unknown_format(data_root):
    with pytest.raises(DatasetError, match="unknown dataset format 'zip'; known: fmow, inat2018"):
        load_user_dataset("zip", "x")


ODD_PATHS = [
    ("photos\x00.jpg", r"the path contains a NUL byte \(character 7\), which no file name can hold"),
    ("photos\nholiday", r"the path contains the control character U\+000A \(character 7\); type the folder"),
    ("photos/\x1b[31mred", r"the path contains the control character U\+001B \(character 8\)"),
    ("x" * 5000, r"the path is 5,000 bytes long; a path can have at most 4,095"),
    ("photos/" + "é" * 200, r"the name 'éééé.*…' is 400 bytes long; a file or folder name can have at most 255"),
]


@pytest.mark.parametrize("fmt", sorted(DATASET_FORMATS))
@pytest.mark.parametrize(("path", "message"), ODD_PATHS, ids=["nul", "newline", "escape", "too-long", "long-name"])
def test_a_path_no_file_can_have_is_refused_with_a_clear_message(data_root, fmt, path, message):
    with pytest.raises(DatasetError, match=message) as info:
        load_user_dataset(fmt, path)
    assert info.value.path == data_root


def test_odd_path_options_and_a_symlink_loop_are_refused_too(data_root):
    write_geo_csv(data_root / "geo.csv")
    with pytest.raises(DatasetError, match="NUL byte"):
        load_user_dataset("geo_csv", "geo.csv", image_root="images\x00")
    (data_root / "loop").symlink_to(data_root / "loop")
    with pytest.raises(DatasetError, match=r"the path 'loop/x' cannot be resolved \(Symlink loop"):
        load_user_dataset("photo_folder", "loop/x")


def test_a_nul_byte_inside_a_dataset_names_the_record(data_root):
    write_geo_csv(data_root / "geo.csv", rows=[{"path": "a\x00.jpg", "label": "x", "lat": "1", "lon": "2"}], write_images=False)
    with pytest.raises(DatasetError, match=r"geo\.csv: line 2: the path contains a NUL byte \(character 2\)"):
        load_user_dataset("geo_csv", "geo.csv")
    write_inat2018(data_root / "inat", images=[(1, "a\x00.jpg", 5, 1.0, 2.0, None)], write_images=False)
    with pytest.raises(DatasetError, match=r"train2018\.json: image id 1: the path contains a NUL byte"):
        load_user_dataset("inat2018", "inat")


@pytest.mark.parametrize(
    ("fmt", "split", "message"),
    [("fmow", "../outside/train", "escapes the dataset root"), ("inat2018", "../outside/train", "unknown iNat2018 split")],
)
def test_a_split_option_cannot_read_outside_the_dataset(data_root, fmt, split, message):
    write_fmow_tree(data_root / "outside")
    write_inat2018(data_root / "outside", split="train")
    (data_root / "dataset").mkdir()
    with pytest.raises(DatasetError, match=message):
        load_user_dataset(fmt, "dataset", split=split)


def test_choice_options_offer_their_default_and_reach_the_loader(data_root):
    for fmt in DATASET_FORMATS.values():
        for name, choices in fmt.option_choices.items():
            assert fmt.options[name] in choices
    write_geo_csv(data_root / "csv/geo.csv", [{"path": "a.jpg", "label": "x", "lat": "1", "lon": "2"}])
    (data_root / "csv/geo.csv").write_text("path,label,lat,lon\na.jpg,x,1,2\nb.jpg,x,1,2\n")
    dataset = load_user_dataset("geo_csv", "csv/geo.csv", on_bad_rows="skip")
    assert len(dataset) == 1 and "line 3: image b.jpg not found" in dataset.problems[0]
