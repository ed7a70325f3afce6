"""Embedded probe tasks: real targets from installed packages, drawn apart from pre-training, cached."""

import numpy as np
import pytest

from core.coords import sample_sphere
from core.data.sources import IGBP_CLASSES
from core.probes import embedded_task
from core.probes.targets import is_land, landcover_diversity, relief_roughness, signed_coast_distance_km
from core.probes.tasks import probe_points, task_cache_path


def test_coast_distance_is_positive_inland_and_negative_at_sea():
    points = np.array([[87.0, 43.0], [-140.0, 0.0], [139.77, 35.68]])  # Ürümqi, mid-Pacific, Tokyo
    distance = signed_coast_distance_km(points)
    assert distance[0] > 2000 and distance[1] < -2000 and abs(distance[2]) < 30
    assert is_land(points).tolist() == [True, False, True]


def test_probe_points_are_not_the_pretraining_draw():
    assert not np.allclose(probe_points(100, 0, "sphere"), sample_sphere(100, np.random.default_rng(0)))


def test_tasks_are_built_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_CACHE", str(tmp_path))
    task = embedded_task("landcover", 300, seed=2)
    assert task_cache_path("landcover", 300, 2).is_file()
    assert set(task.class_names) <= set(IGBP_CLASSES[1:]) and task.kind == "classification"
    assert task.target.max() < len(task.class_names) and len(task) <= 300
    again = embedded_task("landcover", 300, seed=2)
    assert np.array_equal(again.lonlat, task.lonlat) and np.array_equal(again.target, task.target)
    assert again.class_names == task.class_names
    task_cache_path("landcover", 300, 2).write_bytes(b"not an npz")
    assert np.array_equal(embedded_task("landcover", 300, seed=2).target, task.target)
    assert not np.array_equal(embedded_task("landcover", 300, seed=3).lonlat, task.lonlat)


def test_unknown_task_and_too_few_points():
    with pytest.raises(ValueError, match="unknown probe task 'ndvi'"):
        embedded_task("ndvi")
    with pytest.raises(ValueError, match="at least 50 points"):
        embedded_task("climate", 10)


def test_fine_scale_targets_tell_rugged_and_mixed_places_from_uniform_ones():
    # Everest, the Tian Shan by Ürümqi, Kansas, the Sahara
    points = np.array([[86.93, 27.99], [87.0, 43.0], [-100.0, 40.0], [24.0, 23.0]])
    roughness = relief_roughness(points)
    assert roughness[:2].min() > 20 > 10 > roughness[2:].max()
    # the Sahara (all barren), the Nile delta's edge at the sea (water, croplands, urban, barren)
    assert landcover_diversity(np.array([[24.0, 23.0], [31.0, 31.5]])).tolist()[0] == 1
    assert landcover_diversity(np.array([[31.0, 31.5]]))[0] >= 3


@pytest.mark.parametrize("name", ["landcover_diversity", "relief_roughness"])
def test_fine_scale_tasks_are_land_regressions_that_vary_within_tens_of_km(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_CACHE", str(tmp_path))
    task = embedded_task(name, 400)
    assert task.kind == "regression" and len(task) == 400 and np.isfinite(task.target).all()
    assert is_land(task.lonlat).mean() > 0.95
    assert task.target.std() > 0
    shifted = task.lonlat + np.array([0.3, 0.0])  # ~30 km east at the equator, less poleward
    reader = {"landcover_diversity": landcover_diversity, "relief_roughness": relief_roughness}[name]
    assert np.corrcoef(reader(shifted), task.target)[0, 1] < 0.9, "30 km away the target is already another one"
