"""Spatially blocked splits and nested, stratified label-ratio subsets."""

import numpy as np
import pytest

from core.coords import sample_sphere
from core.data.splits import (
    LABEL_RATIOS,
    assign_groups,
    label_ranks,
    label_subset,
    random_split,
    spatial_blocks,
    spatial_split,
)


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return sample_sphere(6000, np.random.default_rng(3))


@pytest.mark.parametrize("scheme", ["h3", "latlon"])
def test_no_spatial_block_is_shared_between_splits(points, scheme):
    split = spatial_split(points, seed=1, scheme=scheme)
    blocks = spatial_blocks(points, scheme)
    for block in np.unique(blocks):
        assert len(set(split[blocks == block])) == 1
    shares = {name: np.mean(split == name) for name in ("train", "val", "test")}
    assert shares["train"] == pytest.approx(0.7, abs=0.05)
    assert shares["val"] == pytest.approx(0.1, abs=0.04)
    assert shares["test"] == pytest.approx(0.2, abs=0.05)


def test_split_is_seeded(points):
    assert (spatial_split(points, seed=5) == spatial_split(points, seed=5)).all()
    assert (spatial_split(points, seed=5) != spatial_split(points, seed=6)).any()


def test_random_split_mixes_blocks(points):
    split = random_split(len(points), seed=0)
    blocks = spatial_blocks(points, "h3")
    mixed = [b for b in np.unique(blocks) if len(set(split[blocks == b])) > 1]
    assert len(mixed) > 10
    assert np.mean(split == "train") == pytest.approx(0.7, abs=0.01)


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="fractions"):
        assign_groups(np.arange(10), (0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="scheme"):
        spatial_blocks(np.zeros((1, 2)), "squares")


def test_label_subsets_are_nested_stratified_and_cover_every_class():
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=4000, p=[0.5, 0.3, 0.15, 0.049, 0.001])
    eligible = rng.random(4000) < 0.7
    ranks = label_ranks(labels, eligible, seed=2)
    assert np.isnan(ranks[~eligible]).all()
    subsets = [label_subset(ranks, ratio) for ratio in LABEL_RATIOS]
    for smaller, larger in zip(subsets, subsets[1:]):
        assert (larger | ~smaller).all(), "subsets must be nested"
    assert (subsets[-1] == eligible).all()
    for label in np.unique(labels[eligible]):
        in_class = eligible & (labels == label)
        chosen = subsets[0] & (labels == label)
        assert 1 <= chosen.sum() and abs(chosen.sum() - 0.05 * in_class.sum()) < 1
    assert (label_ranks(labels, eligible, seed=2) == ranks)[eligible].all()
    with pytest.raises(ValueError, match="label ratio"):
        label_subset(ranks, 0.0)
