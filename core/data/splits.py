"""Train/val/test splits (spatially blocked by default) and nested, stratified label-ratio subsets.

A random split lets location leak through spatial autocorrelation (neighbouring samples end up on
both sides), so the default holds out whole spatial blocks: H3 cells or lat/lon squares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
LABEL_RATIOS = (0.05, 0.10, 0.20, 1.0)


def spatial_blocks(lonlat: np.ndarray, scheme: str = "h3", resolution: int = 1, block_deg: float = 5.0) -> np.ndarray:
    """The spatial block id of each (lon, lat): an H3 cell at ``resolution`` or a ``block_deg`` square."""
    if scheme == "h3":
        from core.hexgrid import cells_of

        return np.asarray(cells_of(lonlat, resolution))
    if scheme == "latlon":
        col = np.floor((lonlat[:, 0] + 180.0) / block_deg).astype(np.int64)
        row = np.floor((np.minimum(lonlat[:, 1], 89.999999) + 90.0) / block_deg).astype(np.int64)
        return np.char.add(np.char.add(row.astype(str), ":"), col.astype(str))
    raise ValueError(f"unknown spatial block scheme {scheme!r}; use 'h3' or 'latlon'")


def assign_groups(groups: np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> np.ndarray:
    """Split whole groups (blocks, or one group per sample for a random split) into train/val/test.

    Groups are shuffled with ``seed`` and filled into the splits in order until each split's share
    of *samples* reaches its fraction. Returns the split name of every sample.
    """
    if len(fractions) != len(SPLIT_NAMES) or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}")
    unique, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    # Each group goes to the split its cumulative-sample midpoint falls into.
    cumulative = np.cumsum(sizes[order]) - sizes[order] / 2.0
    bounds = np.cumsum(fractions)[:-1] * len(groups)
    split_of_group = np.empty(len(unique), dtype=np.int64)
    split_of_group[order] = np.searchsorted(bounds, cumulative, side="right")
    return np.asarray(SPLIT_NAMES)[split_of_group[inverse]]


def spatial_split(
    lonlat: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    scheme: str = "h3",
    resolution: int = 1,
    block_deg: float = 5.0,
) -> np.ndarray:
    """Spatially blocked split: no block has samples in two splits."""
    return assign_groups(spatial_blocks(lonlat, scheme, resolution, block_deg), fractions, seed)


def random_split(n: int, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> np.ndarray:
    """Per-sample random split, for comparison with the spatially blocked one."""
    return assign_groups(np.arange(n), fractions, seed)


def label_ranks(labels: np.ndarray, eligible: np.ndarray, seed: int = 0) -> np.ndarray:
    """A stratified, seeded rank in [0, 1) for each eligible sample (NaN elsewhere).

    Within each class the samples are shuffled and ranked ``r / n_class``; the subset for ratio
    ``p`` is ``rank < p``. Subsets are therefore nested (5 % ⊂ 10 % ⊂ 20 % ⊂ 100 %), keep class
    proportions, and hold at least one sample of every class present.
    """
    ranks = np.full(len(labels), np.nan)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels[eligible]):
        members = np.flatnonzero(eligible & (labels == label))
        shuffled = members[rng.permutation(len(members))]
        ranks[shuffled] = np.arange(len(members)) / len(members)
    return ranks


def label_subset(ranks: np.ndarray, ratio: float) -> np.ndarray:
    """Mask of the samples in the label-ratio subset ``ratio`` ∈ (0, 1] (see :func:`label_ranks`)."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"label ratio must be in (0, 1], got {ratio}")
    return np.nan_to_num(ranks, nan=np.inf) < ratio
