"""Extraction of real-size dataset images: reduced decoding, bad files skipped, box crops, resuming,
torchrun sharding and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from core.data.base import CROP_COLUMNS, GeoImageDataset, records_from_columns
from core.data.images import MAX_IMAGE_PIXELS, ImageRejected, open_image_file
from core.data.loaders import load_user_dataset
from core.image.__main__ import main
from core.image.crops import CropOptions, box_region, context_multiplier, decode_square
from core.image.features import _CacheEntry, _identity, cached_features, extract_features, extraction_record
from core.image.registry import get_image_encoder

ENCODER = "small_cnn"
PROJECT = Path(__file__).resolve().parents[2]
GREY, RED = (128, 128, 128), (220, 20, 20)


def _dataset(root: Path, names: list[str], boxes: list[tuple[float, float, float, float]] | None = None) -> GeoImageDataset:
    n = len(names)
    records = records_from_columns(
        image=names, lon=np.linspace(-10, 10, n), lat=np.zeros(n), label=np.zeros(n), timestamp=[None] * n, site_id=[None] * n
    )
    if boxes is not None:
        records[list(CROP_COLUMNS)] = pd.DataFrame(boxes, columns=list(CROP_COLUMNS))
    return GeoImageDataset("files", root, records, ["thing"])


def _noise_images(root: Path, count: int, size: tuple[int, int] = (48, 40)) -> list[str]:
    rng = np.random.default_rng(1)
    names = []
    for index in range(count):
        names.append(f"image{index:02d}.png")
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(root / names[-1])
    return names


def test_a_52_megapixel_jpeg_in_a_dataset_extracts_but_stays_refused_as_an_upload(tmp_path: Path) -> None:
    Image.new("RGB", (8200, 6312), RED).save(tmp_path / "pan.jpg", quality=90)  # a solid colour: ~1 MB
    with pytest.raises(ImageRejected, match="megapixel limit"):
        open_image_file(tmp_path / "pan.jpg")
    assert 8200 * 6312 > MAX_IMAGE_PIXELS
    square = decode_square(str(tmp_path / "pan.jpg"), None, 64, 1.0, CropOptions())
    assert square.shape == (64, 64, 3) and np.abs(square.astype(int) - RED).max() <= 3
    features = extract_features(_dataset(tmp_path, ["pan.jpg"]), ENCODER, cache_dir=tmp_path / "cache", workers=0)
    assert features.shape == (1, 128) and np.abs(features).sum() > 0 and extraction_record(features)["skipped"] == []


def test_a_corrupt_or_missing_file_is_skipped_and_listed_not_fatal(tmp_path: Path) -> None:
    names = _noise_images(tmp_path, 3)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    dataset = _dataset(tmp_path, [names[0], "broken.jpg", names[1], "gone.jpg", names[2]])
    messages: list[str] = []
    features = extract_features(
        dataset, ENCODER, batch_size=2, cache_dir=tmp_path / "cache", workers=2, progress=lambda f, m: messages.append(m)
    )
    skipped = extraction_record(features)["skipped"]
    assert [(bad["row"], bad["image"]) for bad in skipped] == [(1, "broken.jpg"), (3, "gone.jpg")]
    assert "corrupt" in skipped[0]["reason"] and "cannot be read" in skipped[1]["reason"]
    assert (features[[1, 3]] == 0).all() and (np.abs(features[[0, 2, 4]]).sum(axis=1) > 0).all()
    assert any(m.startswith("skipped row 1 (broken.jpg)") for m in messages) and "2 skipped" in messages[-1]


def _box_image(path: Path) -> tuple[float, float, float, float]:
    """A 400 × 400 grey image with a red 100 × 100 box at (150, 150); returns the box."""
    image = Image.new("RGB", (400, 400), GREY)
    image.paste(RED, (150, 150, 250, 250))
    image.save(path)
    return 150.0, 150.0, 100.0, 100.0


def test_the_box_is_cropped_with_the_fmow_baseline_context(tmp_path: Path) -> None:
    box = np.array(_box_image(tmp_path / "site.png"))
    # the box spans 25 % of the image: the baseline's multiplier is 0.5, i.e. 25 px of context each side
    assert context_multiplier(100, 400, "fmow") == 0.5
    assert [context_multiplier(r * 100, 100, "fmow") for r in (0.6, 0.45, 0.35, 0.25, 0.15, 0.05)] == [0.15, 0.2, 0.3, 0.5, 1.0, 2.0]
    assert box_region(box, (400, 400), "fmow") == (125, 125, 275, 275)
    assert box_region(box, (400, 400), 0.0) == (150, 150, 250, 250)
    assert box_region(np.array([0.0, 390.0, 50.0, 10.0]), (400, 400), 2.0) == (0, 380, 100, 400)  # clamped
    square = decode_square(str(tmp_path / "site.png"), box, 30, 1.0, CropOptions()).astype(int)
    is_red = (np.abs(square - RED).sum(axis=-1) < 30)
    is_grey = (np.abs(square - GREY).sum(axis=-1) < 30)
    assert is_red[6:24, 6:24].all() and is_grey[:4].all() and is_grey[-4:].all() and is_grey[:, :4].all()
    tight = decode_square(str(tmp_path / "site.png"), box, 30, 1.0, CropOptions(context=0.0)).astype(int)
    assert (np.abs(tight - RED).sum(axis=-1) < 30).all()
    whole = decode_square(str(tmp_path / "site.png"), box, 30, 1.0, CropOptions(use_box=False)).astype(int)
    assert (np.abs(whole[:8] - GREY).sum(axis=-1) < 30).all()  # the centre square: mostly grey


def test_crop_options_are_part_of_the_cache_identity(tmp_path: Path, encoded_rows: list[int]) -> None:
    dataset = _dataset(tmp_path, ["site.png", "site.png"], [_box_image(tmp_path / "site.png"), (np.nan,) * 4])
    baseline = extract_features(dataset, ENCODER, cache_dir=tmp_path / "cache", workers=0)
    tight = extract_features(dataset, ENCODER, cache_dir=tmp_path / "cache", workers=0, crop=CropOptions(context=0.0))
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2 and sum(encoded_rows) == 4
    assert not np.allclose(baseline[0], tight[0])
    np.testing.assert_allclose(baseline[1], tight[1], rtol=1e-6)  # no box: the centre square either way
    encoded_rows.clear()
    assert cached_features(dataset, ENCODER, cache_dir=tmp_path / "cache", crop=CropOptions(context=0.0)) is not None
    extract_features(dataset, ENCODER, cache_dir=tmp_path / "cache", workers=0)
    assert encoded_rows == []


def test_an_interrupted_extraction_resumes_from_what_is_on_disk(tmp_path: Path, encoded_rows: list[int]) -> None:
    dataset = _dataset(tmp_path, _noise_images(tmp_path, 20))

    def interrupt(fraction: float, message: str) -> None:
        if "features:" in message and fraction >= 0.25:
            raise KeyboardInterrupt  # as a kill after the first written batch

    with pytest.raises(KeyboardInterrupt):
        extract_features(dataset, ENCODER, batch_size=5, cache_dir=tmp_path / "resumed", workers=2, progress=interrupt)
    sidecar = json.loads(next((tmp_path / "resumed").glob("*.json")).read_text())
    assert sidecar["done"] == 5 and not sidecar["complete"]
    encoded_rows.clear()
    resumed = extract_features(dataset, ENCODER, batch_size=5, cache_dir=tmp_path / "resumed", workers=2)
    assert sum(encoded_rows) == 15
    fresh = extract_features(dataset, ENCODER, batch_size=5, cache_dir=tmp_path / "fresh", workers=0)
    np.testing.assert_allclose(resumed, fresh, rtol=1e-6, atol=1e-7)


def test_shards_left_by_another_number_of_ranks_are_removed_not_mixed_in(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, _noise_images(tmp_path, 6))
    identity = _identity(dataset, get_image_encoder(ENCODER).load(), None, CropOptions(), torch.device("cpu"))
    leftovers = {  # an interrupted 3-rank extraction, a shard from before layouts were recorded, another dataset's
        "mine": [{"rank": rank, "ranks": 3, "rows": [2 * rank, 2 * rank + 2]} for rank in range(3)] + [[0, 3]],
        "other": [{"rank": 0, "ranks": 2, "rows": [0, 3]}],
    }
    for whose, layouts in leftovers.items():
        for layout in layouts:
            shard = _CacheEntry(tmp_path / "cache", {**identity, "shard": layout, **({"dataset": "other"} if whose == "other" else {})})
            rows = layout["rows"] if isinstance(layout, dict) else layout
            array = shard.open_for_writing(0, rows[1] - rows[0], 128)
            array[:] = 7.0  # not this extraction's features: mixed in, they would show
            array.flush()
            shard.record(1, 0.1, [])
    messages: list[str] = []
    features = extract_features(dataset, ENCODER, cache_dir=tmp_path / "cache", workers=0, progress=lambda f, m: messages.append(m))
    assert sum("removed a shard of an earlier extraction by 3 rank(s) (1 rows, extracted again)" in m for m in messages) == 3
    assert sum("by another number of ranks" in m for m in messages) == 1
    sidecars = [json.loads(path.read_text()) for path in (tmp_path / "cache").glob("*.json")]
    assert sorted(str(state["identity"].get("shard")) for state in sidecars) == ["None", str(leftovers["other"][0])]
    np.testing.assert_allclose(features, extract_features(dataset, ENCODER, cache_dir=tmp_path / "fresh", workers=0), rtol=1e-6)


def _csv_dataset(data_root: Path) -> None:
    folder = data_root / "photos"
    folder.mkdir()
    names = _noise_images(folder, 9)
    (folder / "broken.jpg").write_bytes(b"garbage")
    rows = [f"{name},thing,{i},{i}" for i, name in enumerate([*names[:4], "broken.jpg", *names[4:]])]
    (folder / "photos.csv").write_text("path,label,lat,lon\n" + "\n".join(rows) + "\n")


def test_a_two_process_torchrun_extraction_equals_the_single_process_one(data_root: Path, tmp_path: Path) -> None:
    _csv_dataset(data_root)
    command = [
        str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc-per-node", "2",
        "-m", "core.image", "extract", "--encoder", ENCODER, "--dataset", "geo_csv:photos/photos.csv",
        "--batch-size", "3", "--workers", "1", "--cache-dir", str(tmp_path / "ranks"),
    ]  # fmt: skip
    environment = {**os.environ, "GEOCSP_DATA_ROOT": str(data_root), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(command, cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 image(s) skipped" in done.stdout and "row 4: broken.jpg" in done.stdout
    assert len(list((tmp_path / "ranks").glob("*.npy"))) == 1  # the shards were merged and removed

    dataset = load_user_dataset("geo_csv", "photos/photos.csv")
    merged = cached_features(dataset, ENCODER, cache_dir=tmp_path / "ranks")
    assert merged is not None and extraction_record(merged)["shards"] == 2
    single = extract_features(dataset, ENCODER, batch_size=3, cache_dir=tmp_path / "single", workers=0)
    np.testing.assert_allclose(merged, single, rtol=1e-5, atol=1e-6)
    assert extraction_record(merged)["skipped"] == extraction_record(single)["skipped"]


def test_the_command_line_takes_a_dataset_spec_with_options(data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _csv_dataset(data_root)
    arguments = ["extract", "--encoder", ENCODER, "--cache-dir", str(tmp_path / "cache"), "--workers", "0"]
    assert main([*arguments, "--dataset", "geo_csv:photos/photos.csv", "--option", "image_root=photos", "--crop-context", "0.3"]) == 0
    assert "features (10, 128)" in capsys.readouterr().out

    bad = {
        "fmow": "neither 'default' nor '<format>:<path>'",
        "shapefile:photos": "unknown dataset format 'shapefile'; known: fmow",
        "geo_csv:photos/none.csv": "none.csv",
    }
    for spec, message in bad.items():
        assert main([*arguments, "--dataset", spec]) == 2
        assert message in capsys.readouterr().err
    assert main([*arguments, "--dataset", "geo_csv:photos/photos.csv", "--option", "split=val"]) == 2
    assert "has no option split" in capsys.readouterr().err
    assert main([*arguments, "--dataset", "geo_csv:photos/photos.csv", "--crop-context", "wide"]) == 2
    assert "context must be 'fmow' or a number" in capsys.readouterr().err


def test_training_data_leaves_out_the_skipped_images(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.train.config import DataConfig
    from core.train.data import load_feature_data

    monkeypatch.setenv("GEOCSP_CACHE", str(tmp_path / "cache"))
    _csv_dataset(data_root)
    data = load_feature_data(DataConfig(dataset="geo_csv:photos/photos.csv", image_encoder=ENCODER))
    assert len(data.features) == 9 and data.features.abs().sum(dim=1).min() > 0  # the broken row 4 is not there
    assert 4.0 not in data.lonlat[:, 1].tolist()
    assert data.skipped_images == ("broken.jpg",)
    from core.train.runner import _skipped_note

    assert _skipped_note(data) == "\n- 1 image(s) skipped (undecodable, left out): `broken.jpg`"


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that claims ``width × height`` (header only, a few bytes): what a decompression bomb looks like."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def test_dataset_files_keep_a_decompression_bomb_ceiling(tmp_path: Path) -> None:
    _png_header_only(tmp_path / "bomb.png", 40_000, 40_000)  # 1 600 MP
    _png_header_only(tmp_path / "huge.png", 10_000, 10_000)  # 100 MP: under the header ceiling, but no reduced decode
    names = _noise_images(tmp_path, 1)
    features = extract_features(_dataset(tmp_path, ["bomb.png", "huge.png", *names]), ENCODER, cache_dir=tmp_path / "c", workers=0)
    reasons = {bad["image"]: bad["reason"] for bad in extraction_record(features)["skipped"]}
    assert "decompression bomb" in reasons["bomb.png"]
    assert "more than the 64 megapixel limit (only JPEGs decode reduced)" in reasons["huge.png"]
    assert list(reasons) == ["bomb.png", "huge.png"] and np.abs(features[2]).sum() > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback of a machine without a GPU")
def test_cuda_without_a_gpu_falls_back_to_the_cpu_and_says_so(tmp_path: Path) -> None:
    messages: list[str] = []
    dataset = _dataset(tmp_path, _noise_images(tmp_path, 2))
    on_cpu = extract_features(
        dataset, ENCODER, cache_dir=tmp_path / "c", workers=0, device="cuda", progress=lambda f, m: messages.append(m)
    )
    assert messages[0].startswith("no CUDA GPU is available") and on_cpu.shape == (2, 128)
    with pytest.raises(ValueError, match="device must be"):
        extract_features(dataset, ENCODER, cache_dir=tmp_path / "c", device="tpu")
