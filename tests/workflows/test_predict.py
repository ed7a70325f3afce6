"""Predictor on tiny real runs (a small default dataset, small-CNN features): P(y|x), P(y|I), fusion,
refused run pairs, run listing, uploaded photos and the quick pipeline."""

from dataclasses import dataclass, replace
from pathlib import Path

import piexif
import pytest
import torch
import torch.nn.functional as F

from core.coords import CoordinateError
from core.data.default_dataset import DefaultDataset, DefaultDatasetConfig, load_default_dataset
from core.data.images import ImageRejected
from core.evaluate import classification_metrics, predict_logits
from core.fusion import product_fusion
from core.image.features import extract_features
from core.workflows.predict import (
    DISTRIBUTIONS, Predictor, PredictorError, QuickPipeline, quick_pipeline_configs, read_photo, top_k, usable_runs,
)
from core.files import atomic_write_json
from core.train.config import RunConfig
from core.train.data import FeatureData, feature_data_from
from core.workflows.jobs import JobManager
from core.train.records import read_run
from core.train.runner import run
from tests.data.fixtures import gps_ifd, jpeg_with_gps_bytes, photo_bytes, png_header_bytes, truncated_jpeg_bytes

TINY_LOCATION = {"encoding": "theory", "encoding_params": {"num_scales": 4}, "network_params": {"hidden_dim": 32}}
TINY = {"epochs": 2, "batch_size": 64, "location": TINY_LOCATION, "data": {"image_encoder": "small_cnn"}}


@dataclass(frozen=True)
class TinyRuns:
    """A location-classifier run and an image-classifier run trained on ``data`` (from ``dataset``)."""

    dataset: DefaultDataset
    data: FeatureData
    location: Path
    image: Path


def tiny_feature_data(base: Path) -> tuple[DefaultDataset, FeatureData]:
    """The small default dataset (600 places, 16 px chips) and its small-CNN features, built once per session
    under ``base`` (later calls reuse the built files)."""
    dataset = load_default_dataset(DefaultDatasetConfig(n_locations=600, chip_px=16), directory=base / "default")
    return dataset, feature_data_from(dataset, extract_features(dataset, "small_cnn", cache_dir=base / "features"), "small_cnn")


def tiny_config(stage: str, **overrides) -> RunConfig:
    return RunConfig.from_dict({"stage": stage, **TINY, **overrides})


def train_tiny_runs(base: Path, root: Path) -> TinyRuns:
    """Train the two tiny runs under ``root`` (named like real run folders, location model newest)."""
    dataset, data = tiny_feature_data(base)
    image = run(tiny_config("image_classifier"), root / "20250101-000000-image_classifier-aaaaaa", data=data).run_dir
    location = run(tiny_config("finetune"), root / "20250101-000001-finetune-bbbbbb", data=data).run_dir
    return TinyRuns(dataset, data, location, image)


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> TinyRuns:
    return train_tiny_runs(tmp_path_factory.getbasetemp() / "predict-tiny-data", tmp_path_factory.mktemp("predict-runs"))


@pytest.fixture(scope="module")
def predictor(tiny_runs) -> Predictor:
    return Predictor(tiny_runs.location, tiny_runs.image, data=tiny_runs.data)


def test_location_probs_are_the_trained_models_distributions(tiny_runs, predictor):
    data = tiny_runs.data
    assert predictor.class_names == data.class_names and predictor.has_image
    probs = predictor.location_probs([[2.35, 48.86], [36.82, -1.28], [200.0, 10.0]])  # 200° E wraps to -160°
    assert probs.shape == (3, data.n_classes)
    assert torch.allclose(probs.sum(1), torch.ones(3))
    assert torch.allclose(probs[2], predictor.location_probs([[-160.0, 10.0]])[0])
    test = data.labelled_indices("test")
    metrics = read_run(tiny_runs.location).metrics
    assert classification_metrics(predictor.location_probs(data.lonlat[test]), data.labels[test])["top1"] == pytest.approx(
        metrics["test_top1"]
    ), "the best weights of the run are loaded"
    with pytest.raises(CoordinateError, match="latitude 95"):
        predictor.location_probs([[0.0, 95.0]])


def test_image_probs_encode_photos_like_the_cached_training_features(tiny_runs, predictor):
    indices = [0, 5, 17]
    images = [tiny_runs.dataset.load_image(i) for i in indices]
    expected = F.softmax(predict_logits(predictor.image_model, tiny_runs.data.features[indices]), -1)
    assert torch.allclose(predictor.image_probs(images), expected, atol=1e-4)


def test_fused_gives_every_distribution_and_calibration_never_loses_on_validation(tiny_runs, predictor):
    data = tiny_runs.data
    images = [tiny_runs.dataset.load_image(i) for i in (1, 2)]
    fused = predictor.fused(images, data.lonlat[[1, 2]])
    assert set(fused) == set(DISTRIBUTIONS)
    for probs in fused.values():
        assert probs.shape == (2, data.n_classes) and torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
    assert torch.allclose(fused["product"], product_fusion(fused["image"], fused["location"], predictor.prior))

    val = data.labelled_indices("val")
    on_val = predictor.fuse(predict_logits(predictor.image_model, data.features[val]), predictor.location_logits(data.lonlat[val]))
    accuracy = {name: float((p.argmax(1) == data.labels[val]).float().mean()) for name, p in on_val.items()}
    assert accuracy["calibrated"] >= max(accuracy["image"], accuracy["location"])


def test_top_k_orders_classes_by_probability():
    scores = top_k(torch.tensor([0.1, 0.6, 0.3]), ("a", "b", "c"), k=2)
    assert [(s.index, s.name) for s in scores] == [(1, "b"), (2, "c")] and scores[0].probability == pytest.approx(0.6)
    assert len(top_k(torch.tensor([0.5, 0.5]), ("a", "b"), k=5)) == 2


def test_a_location_only_predictor_has_no_image_model(tiny_runs):
    predictor = Predictor(tiny_runs.location, data=tiny_runs.data)
    assert not predictor.has_image and predictor.calibration is None
    with pytest.raises(PredictorError, match="no image classifier"):
        predictor.image_probs([tiny_runs.dataset.load_image(0)])


def test_mismatched_or_wrong_runs_are_refused_with_a_clear_message(tiny_runs, tmp_path):
    data = tiny_runs.data
    renamed = replace(data, class_names=tuple(f"class {i}" for i in range(data.n_classes)))
    with pytest.raises(PredictorError, match="the runs predict different classes: .* pick two runs trained on the same dataset"):
        Predictor(tiny_runs.location, tiny_runs.image, data=data, image_data=renamed)
    shuffled = replace(data, labels=data.labels.roll(1))
    with pytest.raises(PredictorError, match="different records or splits"):
        Predictor(tiny_runs.location, tiny_runs.image, data=data, image_data=shuffled)
    with pytest.raises(PredictorError, match="is a 'image_classifier' run, not a 'finetune' run"):
        Predictor(tiny_runs.image, data=data)
    with pytest.raises(PredictorError, match="is a 'finetune' run, not a 'image_classifier' run"):
        Predictor(tiny_runs.location, tiny_runs.location, data=data)
    with pytest.raises(PredictorError, match="cannot be loaded"):
        Predictor(tmp_path / "nowhere", data=data)


def test_usable_runs_lists_runs_with_weights_by_stage(tiny_runs):
    root = tiny_runs.location.parent
    failed = root / "20250101-000002-finetune-failed"
    failed.mkdir()
    (failed / "config.yaml").write_text(tiny_config("finetune").to_yaml())
    atomic_write_json(failed / "metrics.json", {"status": "failed", "stage": "finetune", "error": "boom"})
    assert [r.run_dir for r in usable_runs("finetune", root)] == [tiny_runs.location]
    assert [r.run_dir for r in usable_runs("image_classifier", root)] == [tiny_runs.image]
    assert usable_runs("finetune", root / "missing") == []


def test_read_photo_reads_gps_before_decoding():
    photo = read_photo(jpeg_with_gps_bytes(-33.8568, 151.2153), "sydney.jpg")
    assert photo.lonlat == pytest.approx((151.2153, -33.8568), abs=1e-4)
    assert photo.image.mode == "RGB" and not photo.gps_problem and len(photo.digest) == 16
    no_gps = read_photo(photo_bytes("PNG"), "plain.png")
    assert no_gps.gps is None and not no_gps.gps_problem
    bad = gps_ifd(10.0, 20.0)
    bad[piexif.GPSIFD.GPSLatitude] = ((91, 1), (0, 1), (0, 1))
    unusable = read_photo(photo_bytes("JPEG", gps=bad), "pole.jpg")
    assert unusable.gps is None and "latitude 91° is larger than 90°" in unusable.gps_problem
    with pytest.raises(ImageRejected, match="larger than the"):
        read_photo(photo_bytes("JPEG"), "big.jpg", max_bytes=100)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (truncated_jpeg_bytes(), "truncated"),
        (b"just some text, not a photo\n", "not an image"),
        (png_header_bytes(30_000, 30_000), "decompression bomb"),
    ],
    ids=["empty", "truncated", "text", "bomb"],
)
def test_read_photo_rejects_unusable_files(data, reason):
    with pytest.raises(ImageRejected, match=reason):
        read_photo(data, "upload.jpg")


def test_quick_pipeline_pretrains_then_finetunes_from_it_then_trains_the_image_model(tiny_runs, tmp_path):
    manager = JobManager(tmp_path, data_provider=lambda config, progress: tiny_runs.data)
    pipeline = QuickPipeline(manager, "me", quick_pipeline_configs(**TINY))
    assert pipeline.join(timeout=300) and not pipeline.active
    assert not pipeline.error, pipeline.error
    pretrain, finetune, image = pipeline.jobs
    assert [job.kind for job in pipeline.jobs] == ["pretrain", "finetune", "image_classifier"]
    assert all(job.status in ("completed", "early_stopped") for job in pipeline.jobs)
    assert finetune.config.finetune.init_from == str(pretrain.run_dir)
    assert manager.jobs("me") == pipeline.jobs[::-1]
    predictor = Predictor(finetune.run_dir, image.run_dir, data=tiny_runs.data)
    assert predictor.location_probs([[0.0, 0.0]]).shape == (1, tiny_runs.data.n_classes)


def test_quick_pipeline_reports_a_failed_pretraining(tmp_path):
    def broken(config, progress):
        raise ValueError("the dataset is gone")

    pipeline = QuickPipeline(JobManager(tmp_path, data_provider=broken), "me", quick_pipeline_configs(**TINY))
    assert pipeline.join(timeout=60)
    assert pipeline.error == "pre-training ended failed: the dataset is gone" and len(pipeline.jobs) == 1
