"""core.workflows.embedding_map: cells of a region, encoders from every source, clusters, PCA colours, similarity, composition."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.regions import REGIONS, BBox
from core.data.default_dataset import DefaultDatasetConfig, load_default_dataset
from core.hexgrid import cell_centers, cells_of, world_cells
from core.image.features import extract_features
from core.location import geoclip_status
from core.train.config import RunConfig
from core.train.data import feature_data_from
from core.train.runner import load_trained_run, run

FAST_LOCATION = {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network_params": {"hidden_dim": 32}}
THEORY = encoders.EncoderChoice("untrained", "theory", seed=3)


@pytest.fixture(scope="module")
def world_res1() -> tuple[list[str], np.ndarray]:
    """The 842 cells of resolution 1 and their embeddings by an untrained (seeded) encoder."""
    cells = em.region_cells(1)
    return cells, em.embed_cells(encoders.load_choice(THEORY), cells)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A small real default dataset (chips and labels) with small_cnn features, as in tests/conftest.py."""
    root = tmp_path_factory.mktemp("embedding-map-data")
    dataset = load_default_dataset(DefaultDatasetConfig(n_locations=600, chip_px=16, seed=5), directory=root / "default")
    return feature_data_from(dataset, extract_features(dataset, "small_cnn", cache_dir=root / "features"), "small_cnn|bluemarble")


def test_region_cells_cover_the_world_or_a_box():
    assert len(em.region_cells(2)) == 5882 and em.region_cells(0) == world_cells(0)
    europe = em.region_cells(2, REGIONS["Europe"])
    assert 0 < len(europe) < 5882 and REGIONS["Europe"].contains(cell_centers(europe)).all()
    with pytest.raises(ValueError, match="resolution"):
        em.region_cells(em.MAX_RESOLUTION + 1)


def test_a_box_across_the_antimeridian_selects_cells_on_both_sides():
    box = BBox(west=170.0, south=-30.0, east=-170.0, north=30.0)
    assert box.crosses_antimeridian and box.width == 20.0 and box.center == (-180.0, 0.0)
    lon = cell_centers(em.region_cells(2, box))[:, 0]
    assert (lon > 170).any() and (lon < -170).any()
    assert ((lon >= 170) | (lon <= -170)).all(), "nothing from the rest of the world"
    with pytest.raises(ValueError, match="south < north"):
        BBox(0.0, 10.0, 20.0, -10.0)


def test_untrained_encoders_are_seeded(world_res1):
    cells, embeddings = world_res1
    assert embeddings.shape == (842, 256) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
    again = em.embed_cells(encoders.load_choice(THEORY), cells)
    other = em.embed_cells(encoders.load_choice(encoders.EncoderChoice("untrained", "theory", seed=4)), cells)
    np.testing.assert_array_equal(embeddings, again)
    assert not np.allclose(embeddings, other)
    rff = [em.embed_cells(encoders.load_choice(encoders.EncoderChoice("untrained", "rff", seed=s)), cells[:5]) for s in (0, 0, 1)]
    np.testing.assert_array_equal(rff[0], rff[1])
    assert not np.allclose(rff[0], rff[2]), "the encoding's own seed follows the choice"


def test_kmeans_labels_cover_the_cells(world_res1):
    _, embeddings = world_res1
    clusters = em.kmeans_clusters(embeddings, k=6, seed=0)
    assert clusters.shape == (len(embeddings),) and set(clusters.tolist()) == set(range(6))
    sizes = np.bincount(clusters)
    assert (np.diff(sizes) <= 0).all(), "cluster 0 is the largest"
    np.testing.assert_array_equal(clusters, em.kmeans_clusters(embeddings, k=6, seed=0))
    assert set(em.kmeans_clusters(embeddings[:3], k=8).tolist()) == {0, 1, 2}, "k is capped at the number of cells"
    assert set(em.kmeans_clusters(embeddings, k=1).tolist()) == {0}


def test_kmeans_finds_lloyds_partition(world_res1):
    """The clusters are computed with Elkan's algorithm (half the time): the same partition as plain Lloyd."""
    _, embeddings = world_res1
    lloyd = KMeans(n_clusters=6, n_init="auto", random_state=0, algorithm="lloyd").fit_predict(embeddings)
    pairs = set(zip(lloyd.tolist(), em.kmeans_clusters(embeddings, k=6, seed=0).tolist()))
    assert len(pairs) == 6, "one cluster number for each of Lloyd's clusters"


def test_pca_colours_are_in_range_and_use_it(world_res1):
    _, embeddings = world_res1
    rgb = em.pca_rgb(embeddings)
    assert rgb.shape == (len(embeddings), 3) and rgb.dtype == np.uint8
    assert (rgb.min(axis=0) == 0).all() and (rgb.max(axis=0) == 255).all(), "robust scaling spans 0..255"
    two_dims = em.pca_rgb(np.random.default_rng(0).normal(size=(50, 2)))
    assert (two_dims[:, 2] == 128).all(), "a missing component is mid-grey"


def test_most_similar_cells_start_with_the_cell_itself(world_res1):
    _, embeddings = world_res1
    order, scores = em.most_similar(embeddings, 100, 10)
    assert order[0] == 100 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert len(order) == 10 == len(set(order.tolist()))
    assert (np.diff(scores[1:]) <= 1e-7).all()
    duplicated = np.vstack([embeddings[:5], embeddings[:5]])
    assert em.most_similar(duplicated, 7, 3)[0][:2].tolist() == [7, 2], "itself first even among exact ties"
    assert len(em.most_similar(embeddings, 0, 10_000)[0]) == len(embeddings)


def test_class_composition_counts_the_samples_in_the_cells():
    lonlat = np.array([[2.35, 48.85], [2.4, 48.9], [-74.0, 40.7], [139.7, 35.7], [2.3, 48.8]])
    labels = np.array([1, 1, 0, 2, -1])
    sample_cells = cells_of(lonlat, 2)
    counts = em.class_composition([sample_cells[0], sample_cells[2]], sample_cells, labels, n_classes=3)
    assert counts.tolist() == [1, 2, 0], "unlabelled samples are not counted"
    assert em.class_composition([], sample_cells, labels, 3).tolist() == [0, 0, 0]


def test_a_trained_runs_location_encoder_is_loaded(tiny_data, tmp_path):
    base = {"epochs": 1, "batch_size": 128, "location": FAST_LOCATION, "data": {"image_encoder": "small_cnn"}}
    pretrain = run(RunConfig.from_dict(base), tmp_path / "pretrain", data=tiny_data).run_dir
    finetune = run(
        RunConfig.from_dict({**base, "stage": "finetune", "finetune": {"init_from": str(pretrain)}}), tmp_path / "finetune", data=tiny_data
    ).run_dir
    cells = em.region_cells(0)
    for run_dir in (pretrain, finetune):
        _, model, _ = load_trained_run(run_dir, data=tiny_data)
        with torch.no_grad():
            expected = torch.nn.functional.normalize(model.location(torch.tensor(cell_centers(cells), dtype=torch.float32)), dim=1)
        embeddings = em.embed_cells(encoders.load_choice(encoders.EncoderChoice("run", str(run_dir))), cells)
        np.testing.assert_allclose(embeddings, expected.numpy(), atol=1e-6)


def test_encoders_that_cannot_be_loaded_say_why(tmp_path):
    with pytest.raises(encoders.EncoderLoadError, match="config.yaml missing"):
        encoders.load_choice(encoders.EncoderChoice("run", str(tmp_path)))
    with pytest.raises(encoders.EncoderLoadError, match="unknown encoding"):
        encoders.load_choice(encoders.EncoderChoice("untrained", "no-such-encoding"))
    with pytest.raises(encoders.EncoderLoadError, match="only 'geoclip'"):
        encoders.load_choice(encoders.EncoderChoice("pretrained", "satclip"))


def test_pretrained_geoclip_embeds_cells_when_installed():
    available, reason = geoclip_status()
    if not available:
        with pytest.raises(encoders.EncoderLoadError, match="geoclip"):
            encoders.load_choice(encoders.EncoderChoice("pretrained", "geoclip"))
        pytest.skip(reason)
    embeddings = em.embed_cells(encoders.load_choice(encoders.EncoderChoice("pretrained", "geoclip")), em.region_cells(0))
    assert embeddings.shape == (122, 512) and np.isfinite(embeddings).all()
