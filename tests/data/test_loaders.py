"""The format registry and the data-root guard on user-supplied paths."""

from __future__ import annotations

import pytest

from core.data.errors import DatasetError
from core.data.loaders import DATASET_FORMATS, load_user_dataset
from tests.data.fixtures import jpeg_with_gps_bytes, write_file, write_fmow_tree, write_geo_csv, write_inat2018


def test_registry():
    assert set(DATASET_FORMATS) == {"fmow", "inat2018", "geo_csv", "photo_folder"}
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
