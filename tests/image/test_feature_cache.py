"""Feature cache: shapes, the default dataset's fast path, cache hits, resuming, generic datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.data.base import GeoImageDataset, records_from_columns
from core.data.default_dataset import DefaultDataset, DefaultDatasetConfig, load_default_dataset
from core.image.features import cached_features, extract_features
from core.image.registry import get_image_encoder, list_image_encoders

ENCODER = "small_cnn"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DefaultDataset:
    directory = tmp_path_factory.mktemp("default") / "default"
    return load_default_dataset(DefaultDatasetConfig(n_locations=200, chip_px=16), directory=directory)


@pytest.mark.parametrize("spec", list_image_encoders(), ids=lambda spec: spec.name)
def test_every_registered_encoder_gives_its_feature_dim(spec, dataset: DefaultDataset) -> None:
    features = spec.load().encode(dataset.chips["bluemarble"][:2])
    assert features.shape == (2, spec.feature_dim) and features.dtype == torch.float32
    assert torch.isfinite(features).all()


def test_unknown_encoder_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="small_cnn"):
        get_image_encoder("vit_h14")


def test_features_match_a_direct_encoding_and_second_call_hits_the_cache(
    dataset: DefaultDataset, tmp_path: Path, encoded_rows: list[int]
) -> None:
    messages: list[tuple[float, str]] = []
    def progress(fraction: float, message: str) -> None:
        messages.append((fraction, message))

    features = extract_features(dataset, ENCODER, batch_size=64, cache_dir=tmp_path, progress=progress)
    assert features.shape == (200, 128) and features.dtype == np.float32
    assert sorted(encoded_rows) == [8, 64, 64, 64]
    assert messages[-1][0] == 1.0 and [f for f, _ in messages] == sorted(f for f, _ in messages)
    direct = get_image_encoder(ENCODER).load().encode(dataset.chips["bluemarble"][:64]).numpy()
    np.testing.assert_allclose(features[:64], direct, rtol=1e-5, atol=1e-6)

    encoded_rows.clear()
    again = extract_features(dataset, ENCODER, batch_size=64, cache_dir=tmp_path, progress=progress)
    assert encoded_rows == []  # no model run
    assert "from the cache" in messages[-1][1]
    np.testing.assert_array_equal(again, features)
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert sidecar["done"] == 200 and sidecar["complete"] and sidecar["identity"]["encoder"] == ENCODER


def test_interrupted_extraction_resumes_where_it_stopped(
    dataset: DefaultDataset, tmp_path: Path, encoded_rows: list[int]
) -> None:
    def interrupt(fraction: float, message: str) -> None:
        if fraction >= 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_features(dataset, ENCODER, batch_size=32, cache_dir=tmp_path / "resumed", progress=interrupt)
    assert 64 <= sum(encoded_rows) < 200  # stopped after two batches were written (a few more were in flight)
    sidecar = json.loads(next((tmp_path / "resumed").glob("*.json")).read_text())
    assert sidecar["done"] == 64 and not sidecar["complete"]  # the written rows were saved on the way out
    assert cached_features(dataset, ENCODER, cache_dir=tmp_path / "resumed") is None

    encoded_rows.clear()
    resumed = extract_features(dataset, ENCODER, batch_size=32, cache_dir=tmp_path / "resumed")
    assert sum(encoded_rows) == 200 - 64  # only the remaining rows
    uninterrupted = extract_features(dataset, ENCODER, batch_size=32, cache_dir=tmp_path / "fresh")
    np.testing.assert_allclose(resumed, uninterrupted, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(cached_features(dataset, ENCODER, cache_dir=tmp_path / "resumed"), resumed)


def test_rows_stay_in_order_with_several_workers_and_match_the_unfolded_model(
    dataset: DefaultDataset, tmp_path: Path, encoded_rows: list[int]
) -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(3)  # three workers, so batches finish out of order
    try:
        features = extract_features(dataset, "efficientnet_lite0_64px", batch_size=16, cache_dir=tmp_path)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)
    assert features.shape == (200, 1280) and len(encoded_rows) == 13
    encoder = get_image_encoder("efficientnet_lite0_64px").load()
    with torch.inference_mode():
        unfolded = encoder.model(encoder.spec.preprocessing(dataset.chips["bluemarble"][:200])).numpy()
    np.testing.assert_allclose(features, unfolded, rtol=0, atol=1e-4)


def test_the_cache_key_holds_the_weights_as_shipped_so_existing_caches_stay_valid() -> None:
    """Folding BatchNorm and rewriting padding change how features are computed, not what they are."""
    encoder = get_image_encoder("efficientnet_lite0_64px").load()
    assert encoder.weights_hash == "7e4870e5c4a489d4f329f0bd1ec32b870cf38c2755f764356db033dedd1bcb8a"


def test_view_and_encoder_are_part_of_the_key(dataset: DefaultDataset, tmp_path: Path, encoded_rows: list[int]) -> None:
    blue = extract_features(dataset, ENCODER, batch_size=256, cache_dir=tmp_path)
    relief = extract_features(dataset, ENCODER, batch_size=256, cache_dir=tmp_path, view="shadedrelief")
    assert encoded_rows == [200, 200]
    assert not np.allclose(blue, relief)
    assert len(list(tmp_path.glob("*.npy"))) == 2
    with pytest.raises(ValueError, match="unknown view"):
        extract_features(dataset, ENCODER, cache_dir=tmp_path, view="infrared")


def test_a_mismatching_sidecar_is_recomputed(dataset: DefaultDataset, tmp_path: Path, encoded_rows: list[int]) -> None:
    extract_features(dataset, ENCODER, batch_size=256, cache_dir=tmp_path)
    sidecar = next(tmp_path.glob("*.json"))
    state = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**state, "rows": 199}))
    extract_features(dataset, ENCODER, batch_size=256, cache_dir=tmp_path)
    assert encoded_rows == [200, 200]


def _photo_dataset(root: Path, sizes: list[tuple[int, int]]) -> GeoImageDataset:
    rng = np.random.default_rng(0)
    names = []
    for index, (width, height) in enumerate(sizes):
        names.append(f"photo{index}.png")
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(root / names[-1])
    n = len(sizes)
    records = records_from_columns(
        image=names, lon=np.zeros(n), lat=np.zeros(n), label=np.zeros(n), timestamp=[None] * n, site_id=[None] * n
    )
    return GeoImageDataset("photos", root, records, ["thing"])


def test_generic_datasets_decode_images_through_pil(tmp_path: Path) -> None:
    dataset = _photo_dataset(tmp_path, [(40, 30), (32, 32), (20, 50)])
    features = extract_features(dataset, ENCODER, batch_size=2, cache_dir=tmp_path / "cache")
    images = [dataset.load_image(index) for index in range(3)]
    direct = get_image_encoder(ENCODER).load().encode(images).numpy()
    # the extraction resizes with Pillow (in the decoding workers), the direct path with torch: both bilinear
    np.testing.assert_allclose(features, direct, rtol=1e-3, atol=1e-5)
    with pytest.raises(ValueError, match="default dataset"):
        extract_features(dataset, ENCODER, cache_dir=tmp_path / "cache", view="bluemarble")


def test_an_empty_dataset_gives_an_empty_array(tmp_path: Path) -> None:
    features = extract_features(_photo_dataset(tmp_path, []), ENCODER, cache_dir=tmp_path / "cache")
    assert features.shape == (0, 128) and features.dtype == np.float32
