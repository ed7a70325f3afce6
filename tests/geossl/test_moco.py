"""Geography-aware MoCo on real data: positives come from the same site, training runs through the
shared trainer, probes evaluate, and the trained backbone feeds CSP unchanged."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.data.fmow import load_fmow
from core.geossl.encoder import MOCO_PREFIX
from core.geossl.moco import MoCoTask, geo_clusters
from core.geossl.probes import finetune_probe, probe_metrics
from core.geossl.sites import dataset_site_images, default_site_images
from core.image.features import extract_features
from core.image.registry import get_image_encoder
from core.train.config import RunConfig
from core.train.runner import run
from tests.data.fixtures import FMOW_SITES, truncated_jpeg_bytes, write_file, write_fmow_tree


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    from core.data.default_dataset import DefaultDatasetConfig, load_default_dataset

    directory = tmp_path_factory.mktemp("moco-default") / "default"
    dataset = load_default_dataset(DefaultDatasetConfig(n_locations=600, chip_px=16, seed=5), directory=directory)
    return dataset, default_site_images(dataset, 16)


def moco_config(**moco) -> RunConfig:
    settings = {"queue_size": 256, "n_clusters": 8, "image_size": 16, **moco}
    return RunConfig.from_dict({"stage": "moco", "epochs": 2, "batch_size": 64, "moco": settings, "finetune": {"label_ratio": 1.0}})


def test_fmow_positives_come_from_the_same_site_and_never_another(tmp_path):
    write_fmow_tree(tmp_path)
    site_images = dataset_site_images(load_fmow(tmp_path, "train"), 16)
    assert site_images.n_sites == len(FMOW_SITES)
    multi = [s for s in range(site_images.n_sites) if len(site_images.site_images[s]) > 1]
    assert multi, "the fixture has sites with several timestamps"
    sites = torch.arange(site_images.n_sites).repeat(50)
    queries, keys = site_images.positive_pairs(sites, temporal=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(site_images.image_site[queries], sites)
    assert torch.equal(site_images.image_site[keys], sites)
    several = torch.isin(sites, torch.tensor(multi))
    assert (queries[several] != keys[several]).all(), "temporal positives are other acquisitions"
    same_q, same_k = site_images.positive_pairs(sites, temporal=False, generator=torch.Generator().manual_seed(0))
    assert torch.equal(same_q, same_k), "without temporal positives both views start from one image"


def test_fmow_sites_leave_out_an_undecodable_image_and_decode_a_52_megapixel_one(tmp_path):
    # A truncated JPEG used to abort MoCo on the whole dataset, and a full-size fMoW image (over the
    # uploads' 40 MP cap) was refused; now the first is left out and listed, the second decoded reduced.
    write_fmow_tree(tmp_path)
    write_file(tmp_path / "train/zoo/zoo_3/zoo_3_0_rgb.jpg", truncated_jpeg_bytes())
    big = tmp_path / "train/airport/airport_7/airport_7_0_rgb.jpg"
    Image.new("RGB", (8200, 6312), (30, 60, 90)).save(big, quality=50)
    dataset = load_fmow(tmp_path, "train")
    site_images = dataset_site_images(dataset, 16)
    assert site_images.skipped_images == ("train/zoo/zoo_3/zoo_3_0_rgb.jpg",)
    assert site_images.n_sites == len(FMOW_SITES) - 1, "the zoo site had only that image"
    assert len(site_images.images) == len(dataset) - 1
    big_row = int(np.flatnonzero(dataset.records["image"] == "train/airport/airport_7/airport_7_0_rgb.jpg")[0])
    assert min(dataset.load_image(big_row, min_side=16).size) < 6312 // 4, "decoded reduced"


def test_default_dataset_sites_pair_aligned_views(sites):
    dataset, site_images = sites
    assert site_images.images.shape == (3 * len(dataset), 16, 16, 3)
    queries, keys = site_images.positive_pairs(torch.arange(10), True, torch.Generator().manual_seed(1))
    assert torch.equal(site_images.image_site[queries], torch.arange(10))
    assert (queries != keys).all()


def test_geo_clusters_cover_the_antimeridian():
    lonlat = np.array([[179.9, 10.0], [-179.9, 10.0], [0.0, 10.0], [0.1, 10.0]])
    clusters = geo_clusters(lonlat, 2, seed=0)
    assert clusters[0] == clusters[1] and clusters[2] == clusters[3] and clusters[0] != clusters[2]


@pytest.mark.parametrize("temporal, geo", [(False, 0.0), (True, 1.0)])
def test_moco_variants_train_and_probe(sites, tmp_path, temporal, geo):
    _, site_images = sites
    config = moco_config(temporal_positives=temporal, geo_weight=geo)
    summary = run(config, tmp_path / "run", data=site_images)
    assert summary.status == "completed"
    parts = set(summary.fit.steps[0])
    assert ("geo" in parts) == (geo > 0) and "moco" in parts
    assert {"test_linear_top1", "test_linear_f1", "test_knn_top1"} <= set(summary.test_metrics)
    assert 0 < summary.test_metrics["test_linear_top1"] <= 1


def test_momentum_queue_and_backbone_reuse(sites, tmp_path, monkeypatch):
    dataset, site_images = sites
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path))
    config = moco_config()
    summary = run(config, tmp_path / "moco-run", data=site_images)
    task = MoCoTask(config, site_images)
    initial_queue = task.model.queue.clone()
    task.model.train()
    task.training_loss(task.model, task.train_sites[:8], torch.Generator().manual_seed(0))
    assert not torch.equal(task.model.queue[:8], initial_queue[:8]) and torch.equal(task.model.queue[8:], initial_queue[8:])
    for query, key in zip(task.model.backbone.parameters(), task.model.key_backbone.parameters()):
        assert not key.requires_grad

    encoder = get_image_encoder(f"{MOCO_PREFIX}moco-run")
    assert encoder.feature_dim == 128 and encoder.input_size == 16
    features = extract_features(dataset, f"{MOCO_PREFIX}moco-run", cache_dir=tmp_path / "features")
    assert features.shape == (len(dataset), 128) and np.isfinite(features).all()
    metrics = finetune_probe(task, label_ratio=1.0, epochs=1)
    assert 0 <= metrics["finetune_top1"] <= 1 and 0 <= metrics["finetune_f1"] <= 1
    assert summary.test_metrics == pytest.approx({f"test_{k}": v for k, v in probe_metrics(_trained(config, site_images, summary), 1.0).items()}, rel=1e-4)


def _trained(config, site_images, summary):
    from core.train.runner import load_trained_run

    task = MoCoTask(config, site_images)
    _, model, _ = load_trained_run(summary.run_dir, site_images)
    task.model.load_state_dict(model.state_dict())
    return task
