"""Train/val/test splits (spatially blocked by default) and nested, stratified label-ratio subsets.

A random split lets location leak through spatial autocorrelation (neighbouring samples end up on
both sides), so the default holds out whole spatial blocks: H3 cells or lat/lon squares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
LABEL_RATIOS = (0.05, 0.10, 0.20, 1.0)
#: Records every split needs: pre-training validates an in-batch contrastive loss, which takes two.
MIN_SPLIT_SIZE = 2
#: The finest H3 resolution :func:`choose_split` tries (cells of about 0.1 km²) before splitting at random.
FINEST_BLOCK_RESOLUTION = 9


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


@dataclass(frozen=True)
class DataSplit:
    """The split of each record and, in words for the user and the run card, how it was made."""

    splits: np.ndarray
    method: str

    def sizes(self) -> dict[str, int]:
        """Records per split, in train/val/test order."""
        return {name: int(np.sum(self.splits == name)) for name in SPLIT_NAMES}


def too_small_splits(splits: np.ndarray, min_size: int = MIN_SPLIT_SIZE) -> list[str]:
    """Names of the splits holding fewer than ``min_size`` records, e.g. ``["val (0 records)"]``."""
    counts = {name: int(np.sum(splits == name)) for name in SPLIT_NAMES}
    return [f"{name} ({count} record{'s' * (count != 1)})" for name, count in counts.items() if count < min_size]


def _sized_random_split(n: int, fractions: Sequence[float], seed: int, min_size: int) -> np.ndarray:
    """Random per-record split giving val and test at least ``min_size`` records each (train the rest),
    shrinking test then val towards one record when train would otherwise fall below ``min_size``."""
    val, test = (max(min_size, round(fraction * n)) for fraction in fractions[1:])
    short = max(0, min_size - (n - val - test))  # records train lacks
    from_test = min(short, test - 1)
    test -= from_test
    val -= max(0, min(short - from_test, val - 1))
    train = max(0, n - val - test)
    labels = np.repeat(np.asarray(SPLIT_NAMES), [train, val, test])[:n]
    return labels[np.random.default_rng(seed).permutation(n)]


def choose_split(
    lonlat: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    resolution: int = 1,
    min_size: int = MIN_SPLIT_SIZE,
) -> DataSplit:
    """A spatially blocked split whose blocks suit the data, else a random one, said plainly in ``method``.

    H3 cells from ``resolution`` up to :data:`FINEST_BLOCK_RESOLUTION` are tried in turn; the first
    (coarsest) resolution whose split gives every split at least ``min_size`` records is used. When
    even the finest leaves a split short (few records in few places), records are split at random,
    val and test getting ``min_size`` each where the data allow; :func:`too_small_splits` then names
    any split still short.
    """
    for level in range(resolution, max(resolution, FINEST_BLOCK_RESOLUTION) + 1):
        splits = spatial_split(lonlat, fractions, seed, "h3", level)
        if not too_small_splits(splits, min_size):
            return DataSplit(splits, f"spatially blocked by H3 cells at resolution {level}")
    return DataSplit(
        _sized_random_split(len(lonlat), fractions, seed, min_size),
        f"random per record: the {len(lonlat)} located records lie in too few places for a spatially blocked "
        f"split with at least {min_size} records in each of train, val and test (location can leak between splits)",
    )


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
