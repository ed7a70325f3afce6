"""Spatially blocked splits and nested, stratified label-ratio subsets."""

import numpy as np
import pytest

from core.coords import sample_sphere
from core.data.splits import (
    LABEL_RATIOS,
    MIN_SPLIT_SIZE,
    SPLIT_NAMES,
    assign_groups,
    choose_split,
    label_ranks,
    label_subset,
    random_split,
    spatial_blocks,
    spatial_split,
    too_small_splits,
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


# --- small and odd datasets: the block size follows the data ----------------------------------------

#: 13 located photos in 5 H3 resolution-1 cells (1, 4, 1, 2 and 5 photos about a kilometre apart):
#: the fixed resolution-1 split gave train 11 / val 0 / test 2, and training failed.
CITIES = [((-9.14, 38.72), 1), ((2.35, 48.86), 4), ((139.69, 35.68), 1), ((-74.0, 40.71), 2), ((151.21, -33.87), 5)]
THIRTEEN_PHOTOS = np.array([(lon + 0.01 * k, lat + 0.007 * k) for (lon, lat), n in CITIES for k in range(n)])


def test_thirteen_photos_in_five_cells_get_every_split_filled_and_blocked():
    assert [int(np.sum(spatial_split(THIRTEEN_PHOTOS) == name)) for name in SPLIT_NAMES] == [11, 0, 2]
    chosen = choose_split(THIRTEEN_PHOTOS)
    assert all(size >= MIN_SPLIT_SIZE for size in chosen.sizes().values()), chosen.sizes()
    level = int(chosen.method.rsplit(" ", 1)[-1])
    assert chosen.method == f"spatially blocked by H3 cells at resolution {level}" and level > 1
    blocks = spatial_blocks(THIRTEEN_PHOTOS, "h3", level)
    assert all(len(set(chosen.splits[blocks == block])) == 1 for block in np.unique(blocks))


def test_a_large_dataset_keeps_the_requested_resolution(points):
    chosen = choose_split(points, seed=1)
    assert chosen.method == "spatially blocked by H3 cells at resolution 1"
    assert (chosen.splits == spatial_split(points, seed=1)).all()


def test_records_in_too_few_places_are_split_at_random_and_said_so():
    same_spot = np.array([(2.35, 48.86)] * 6 + [(-9.14, 38.72)] * 3)
    chosen = choose_split(same_spot)
    assert chosen.method.startswith("random per record: the 9 located records lie in too few places")
    assert chosen.sizes() == {"train": 5, "val": 2, "test": 2}
    assert too_small_splits(chosen.splits) == []


def test_too_few_records_name_the_short_splits():
    chosen = choose_split(np.array([(2.35, 48.86)] * 4))
    assert chosen.sizes() == {"train": 2, "val": 1, "test": 1}
    assert too_small_splits(chosen.splits) == ["val (1 record)", "test (1 record)"]
    assert too_small_splits(np.array(["train"] * 3 + ["test"] * 2)) == ["val (0 records)"]
