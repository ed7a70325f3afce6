"""Images grouped by site: the temporal / aligned positives of geography-aware SSL.

In fMoW a site's images are its acquisitions at different times; in the embedded default dataset a
place's "acquisitions" are its aligned Blue Marble, shaded-relief and ETOPO chips. Everything is
held in memory as uint8 ``[M, S, S, 3]`` at the training size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from PIL import Image

from core.data.base import GeoImageDataset
from core.data.images import ImageRejected
from core.data.splits import choose_split, label_ranks
from core.train.config import DataConfig


@dataclass(frozen=True)
class SiteImages:
    """Images with their site, and per-site location, label, split and label rank."""

    images: torch.Tensor  # uint8 [M, S, S, 3]
    image_site: torch.Tensor  # int64 [M]
    site_images: list[torch.Tensor]  # image indices of each site, in acquisition order
    lonlat: np.ndarray  # float64 [n_sites, 2]
    labels: torch.Tensor  # int64 [n_sites], -1 unlabelled
    splits: np.ndarray  # [n_sites]
    label_ranks: np.ndarray  # [n_sites]
    class_names: tuple[str, ...]
    fingerprint: str
    split_method: str = "the dataset's own split"  # how the splits were made, in words (run cards, the app)
    skipped_images: tuple[str, ...] = ()  # images that could not be decoded (left out)

    @property
    def n_sites(self) -> int:
        return len(self.site_images)

    def sites(self, split: str) -> torch.Tensor:
        return torch.from_numpy(np.flatnonzero(self.splits == split))

    def labelled_sites(self, split: str) -> torch.Tensor:
        return torch.from_numpy(np.flatnonzero((self.splits == split) & (self.labels.numpy() >= 0)))

    def first_images(self, sites: torch.Tensor) -> torch.Tensor:
        """The first acquisition of each site (what probes and feature extraction look at)."""
        return torch.stack([self.site_images[int(s)][0] for s in sites]) if len(sites) else torch.zeros(0, dtype=torch.long)

    def positive_pairs(self, sites: torch.Tensor, temporal: bool, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(query image, key image) per site: two different acquisitions of the same site when
        ``temporal`` and the site has several, otherwise the same image twice (plain MoCo-v2)."""
        queries, keys = [], []
        for site in sites.tolist():
            members = self.site_images[site]
            if temporal and len(members) > 1:
                pick = torch.randperm(len(members), generator=generator)[:2]
                queries.append(members[pick[0]])
                keys.append(members[pick[1]])
            else:
                chosen = members[torch.randint(len(members), (1,), generator=generator)[0]]
                queries.append(chosen)
                keys.append(chosen)
        return torch.stack(queries), torch.stack(keys)


def default_site_images(dataset, size: int) -> SiteImages:
    """The default dataset: every place is a site with its three aligned chip views."""
    views = list(dataset.chips)
    n = len(dataset)
    stacked = np.concatenate([_resize(np.asarray(dataset.chips[view]), size) for view in views])
    site_images = [torch.tensor([v * n + i for v in range(len(views))]) for i in range(n)]
    records = dataset.records
    return SiteImages(
        images=torch.from_numpy(stacked),
        image_site=torch.arange(n).repeat(len(views)),
        site_images=site_images,
        lonlat=records[["lon", "lat"]].to_numpy(np.float64),
        labels=torch.from_numpy(records["label"].to_numpy(np.int64).copy()),
        splits=records["split"].to_numpy(str),
        label_ranks=records["label_rank"].to_numpy(np.float64),
        class_names=tuple(dataset.class_names),
        fingerprint=dataset.fingerprint(),
    )


def dataset_site_images(dataset: GeoImageDataset, size: int, seed: int = 0) -> SiteImages:
    """Any loader's dataset (fMoW, photo folders, ...): records grouped by ``site_id`` (or one site each).

    Records without a location, and those whose image cannot be decoded (listed in ``skipped_images``),
    are dropped; images are decoded reduced to about ``size``. The site's location and label are its
    first record's. A split (spatially blocked where the data allow, see
    :func:`core.data.splits.choose_split`) and label ranks are computed over sites.
    """
    decoded, skipped = {}, []
    for index in np.flatnonzero(dataset.has_location):
        try:
            decoded[index] = np.asarray(dataset.load_image(index, min_side=size).resize((size, size), Image.Resampling.BILINEAR))
        except ImageRejected:
            skipped.append(str(dataset.records.at[index, "image"]))
    records = dataset.records.loc[list(decoded)].copy()
    records["site"] = records["site_id"].where(records["site_id"].notna(), pd.Series(records.index.astype(str), index=records.index))
    records = records.sort_values(["site", "timestamp"], kind="stable")
    images = np.stack([decoded[i] for i in records.index])
    codes, site_keys = pd.factorize(records["site"], sort=False)
    site_images = [torch.from_numpy(np.flatnonzero(codes == s)) for s in range(len(site_keys))]
    first = records.groupby(codes, sort=True).head(1)
    lonlat = first[["lon", "lat"]].to_numpy(np.float64)
    labels = first["label"].to_numpy(np.int64)
    chosen = choose_split(lonlat, seed=seed)
    return SiteImages(
        images=torch.from_numpy(images),
        image_site=torch.from_numpy(codes.astype(np.int64)),
        site_images=site_images,
        lonlat=lonlat,
        labels=torch.from_numpy(labels.copy()),
        splits=chosen.splits,
        label_ranks=label_ranks(labels, (chosen.splits == "train") & (labels >= 0), seed),
        class_names=tuple(dataset.class_names),
        fingerprint=dataset.fingerprint(),
        split_method=chosen.method,
        skipped_images=tuple(skipped),
    )


def _resize(chips: np.ndarray, size: int) -> np.ndarray:
    if chips.shape[1] == size:
        return chips
    tensor = torch.from_numpy(np.array(chips)).permute(0, 3, 1, 2).float()
    resized = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


_CACHE: dict[tuple, SiteImages] = {}


def load_site_images(data: DataConfig, size: int) -> SiteImages:
    """Site images of the dataset a run config names (see :func:`core.train.data.open_dataset`), cached."""
    from core.train.data import open_dataset

    key = (data.dataset_key, size)
    if key not in _CACHE:
        dataset = open_dataset(data)
        _CACHE[key] = default_site_images(dataset, size) if hasattr(dataset, "chips") else dataset_site_images(dataset, size)
    return _CACHE[key]
