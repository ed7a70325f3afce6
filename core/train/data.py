"""In-memory training data: cached image features + locations + labels + splits of a dataset."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

import core.geossl.encoder  # noqa: F401  (registers the moco:<run> image encoders)
from core.data.base import GeoImageDataset
from core.data.splits import choose_split, label_ranks, label_subset
from core.image.crops import CropOptions
from core.train.config import DataConfig

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class FeatureData:
    """Everything a CSP run reads, for the located records of a dataset."""

    lonlat: torch.Tensor  # float32 [N, 2] (lon, lat) degrees
    features: torch.Tensor  # float32 [N, F] image features
    labels: torch.Tensor  # int64 [N], -1 unlabelled
    splits: np.ndarray  # "train" / "val" / "test"
    label_ranks: np.ndarray  # stratified rank in [0, 1) for labelled train records, NaN elsewhere
    class_names: tuple[str, ...]
    fingerprint: str  # data hash recorded in run cards
    split_method: str = "the dataset's own split"  # how the splits were made, in words (run cards, the app)
    skipped_images: tuple[str, ...] = ()  # paths of images feature extraction skipped (left out)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    def indices(self, split: str) -> torch.Tensor:
        """Indices of a split's records."""
        return torch.from_numpy(np.flatnonzero(self.splits == split))

    def labelled_indices(self, split: str) -> torch.Tensor:
        """Indices of a split's labelled records."""
        return torch.from_numpy(np.flatnonzero((self.splits == split) & (self.labels.numpy() >= 0)))

    def label_budget(self, ratio: float) -> torch.Tensor:
        """Training indices of the nested, stratified ``ratio`` label subset."""
        return torch.from_numpy(np.flatnonzero(label_subset(self.label_ranks, ratio)))

    def class_prior(self, indices: torch.Tensor, smoothing: float = 1.0) -> torch.Tensor:
        """P(y) estimated (Laplace-smoothed) from the labels of ``indices``."""
        counts = torch.bincount(self.labels[indices], minlength=self.n_classes).float() + smoothing
        return counts / counts.sum()


def feature_data_from(
    dataset: GeoImageDataset, features: np.ndarray, feature_key: str, seed: int = 0, exclude: Sequence[int] = ()
) -> FeatureData:
    """Assemble :class:`FeatureData` from a dataset and its features (records without location, and the
    rows ``exclude`` — images the extraction skipped — dropped).

    Datasets that carry a ``split`` column (the default one) keep it; others get a spatially blocked
    split whose block size suits the data, or a random one when the records lie in too few places
    (see :func:`core.data.splits.choose_split`; ``split_method`` says which), and label ranks,
    computed here with ``seed``.
    """
    located = dataset.has_location
    located[list(exclude)] = False
    skipped = tuple(f"{dataset.records.at[row, 'image']}" for row in exclude)
    lonlat = dataset.lonlat[located]
    labels = dataset.labels[located]
    records = dataset.records[located]
    split_method = FeatureData.split_method
    if "split" in records.columns:
        splits = records["split"].to_numpy(dtype=str)
        ranks = records["label_rank"].to_numpy(dtype=np.float64)
    else:
        chosen = choose_split(lonlat.astype(np.float64), seed=seed)
        splits, split_method = chosen.splits, chosen.method
        ranks = label_ranks(labels, (splits == "train") & (labels >= 0), seed)
    digest = hashlib.sha256(f"{dataset.fingerprint()}|{feature_key}".encode()).hexdigest()
    return FeatureData(
        lonlat=torch.from_numpy(np.ascontiguousarray(lonlat, dtype=np.float32)),
        features=torch.from_numpy(np.ascontiguousarray(features[located], dtype=np.float32)),
        labels=torch.from_numpy(labels.astype(np.int64)),
        splits=splits,
        label_ranks=ranks,
        class_names=tuple(dataset.class_names),
        fingerprint=digest[:16],
        split_method=split_method,
        skipped_images=skipped,
    )


ALL_VIEWS = "all"
"""``data.view`` value for the three aligned views' features side by side (default dataset)."""
_CACHE: dict[tuple, FeatureData] = {}
_CACHE_LOCK = threading.Lock()


def load_feature_data(config: DataConfig, progress: Progress | None = None) -> FeatureData:
    """Load a dataset by name and its (disk-cached) image features, images with an object box cut as
    ``config.crop`` says, plus the unlabelled pre-training pool when ``config.pretrain_pool`` asks for one;
    reused across runs in one process."""
    key = (config.dataset_key, config.image_encoder, config.view, config.crop, config.pretrain_pool)
    with _CACHE_LOCK:
        if key not in _CACHE:
            dataset = open_dataset(config)
            views = data_views(config, dataset)
            features, skipped = view_features(dataset, config.image_encoder, views, config.crop, progress)
            view_label = config.view if views != [None] else None
            data = feature_data_from(dataset, features, f"{config.image_encoder}|{view_label}", exclude=skipped)
            if config.pretrain_pool:
                from core.data.pretrain_pool import PretrainPoolConfig, load_pretrain_pool

                pool = load_pretrain_pool(dataset, PretrainPoolConfig(config.pretrain_pool, tuple(views)), config.image_encoder, progress)
                data = with_unlabelled(data, pool.lonlat, pool.features, pool.key)
            _CACHE[key] = data
        return _CACHE[key]


def data_views(config: DataConfig, dataset: GeoImageDataset) -> list[str | None]:
    """The chip views whose features form the image side: ``[None]`` for datasets without views."""
    from core.data.sources import VIEW_SOURCES

    if not hasattr(dataset, "chips"):
        if config.view == ALL_VIEWS or config.pretrain_pool:
            raise ValueError(f"data.view={config.view!r} / data.pretrain_pool apply only to the embedded default dataset")
        return [None]
    return list(VIEW_SOURCES) if config.view == ALL_VIEWS else [config.view]


def view_features(
    dataset: GeoImageDataset, encoder: str, views: list[str | None], crop: CropOptions, progress: Progress | None = None
) -> tuple[np.ndarray, list[int]]:
    """The (disk-cached) features of each view, side by side ``[N, F · len(views)]``, and the rows whose
    image the extraction skipped (undecodable) in any view."""
    from core.image.features import extract_features, extraction_record

    parts = [extract_features(dataset, encoder, progress=progress, view=view, crop=crop) for view in views]
    skipped = sorted({bad["row"] for part in parts for bad in extraction_record(part)["skipped"]})
    return (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)), skipped


def with_unlabelled(data: FeatureData, lonlat: np.ndarray, features: np.ndarray, key: str) -> FeatureData:
    """``data`` with unlabelled training records appended (pre-training reads them; label budgets do not)."""
    count = len(lonlat)
    return replace(
        data,
        lonlat=torch.cat([data.lonlat, torch.as_tensor(np.asarray(lonlat, dtype=np.float32))]),
        features=torch.cat([data.features, torch.as_tensor(np.asarray(features, dtype=np.float32))]),
        labels=torch.cat([data.labels, torch.full((count,), -1, dtype=torch.int64)]),
        splits=np.concatenate([data.splits, np.full(count, "train")]),
        label_ranks=np.concatenate([data.label_ranks, np.full(count, np.nan)]),
        fingerprint=hashlib.sha256(f"{data.fingerprint}|{key}".encode()).hexdigest()[:16],
    )


def open_dataset(config: DataConfig) -> GeoImageDataset:
    """The dataset a config names: ``default`` or ``<format>:<path under the data root>`` loaded with its
    ``dataset_options`` (options a format does not take raise :class:`core.data.errors.DatasetError`)."""
    name, options = config.dataset, dict(config.dataset_options)
    if name == "default":
        if options:
            raise ValueError(f"data.dataset_options: the default dataset takes no options, got {sorted(options)}")
        from core.data.default_dataset import load_default_dataset

        return load_default_dataset()
    fmt, sep, path = name.partition(":")
    if not sep:
        raise ValueError(f"data.dataset: {name!r} is neither 'default' nor '<format>:<path>'")
    from core.data.loaders import load_user_dataset

    return load_user_dataset(fmt, path, **options)
