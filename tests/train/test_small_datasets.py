"""Small and odd user datasets train: the split's block size follows the data, and a short split is named."""

import numpy as np
import pytest

from core.data.photo_folder import load_photo_folder
from core.image.features import extract_features
from core.train.data import feature_data_from
from core.train.runner import run
from tests.data.fixtures import jpeg_with_gps_bytes, write_file
from tests.data.test_splits import THIRTEEN_PHOTOS
from tests.train.test_trainer import config


def photo_folder_data(root, lonlat: np.ndarray):
    """Feature data of a real photo folder: one geotagged JPEG per (lon, lat), two classes by sub-folder."""
    for index, (lon, lat) in enumerate(lonlat.tolist()):
        data = jpeg_with_gps_bytes(lat, lon, size=(40, 32), color=(20 * index % 255, 90, 160))
        write_file(root / "photos" / ("park" if index % 2 else "street") / f"{index:02d}.jpg", data)
    dataset = load_photo_folder(root / "photos")
    return feature_data_from(dataset, extract_features(dataset, "small_cnn", cache_dir=root / "features"), "small_cnn")


def test_thirteen_photos_in_five_cells_pretrain_and_the_card_says_how_they_were_split(tmp_path, runs):
    data = photo_folder_data(tmp_path, THIRTEEN_PHOTOS)
    assert data.split_method.startswith("spatially blocked by H3 cells at resolution ")
    summary = run(config(epochs=2, batch_size=8), data=data)
    assert summary.status == "completed" and np.isfinite(summary.test_metrics["test_loss"])
    assert f"- split: {data.split_method}" in (summary.run_dir / "run_card.md").read_text()


def test_too_few_located_photos_name_the_short_split(tmp_path, runs):
    data = photo_folder_data(tmp_path, np.array([(2.35, 48.86)] * 4))
    assert data.split_method.startswith("random per record")
    with pytest.raises(ValueError, match=r"too few located records in split val \(1\), test \(1\): this stage needs at "
                                         r"least 2 in each of train, val, test \(split: random per record"):
        run(config(epochs=1), data=data)
