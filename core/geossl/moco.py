"""Geography-aware MoCo-v2 (Ayush et al., ICCV 2021) as a :class:`core.train.loop.Task`.

Query and key encoders (backbone + 2-layer MLP head), the key encoder an exponential moving
average of the query encoder, a queue of past keys as negatives, InfoNCE with temperature τ
(``logits = cos / τ``). Optional temporal positives (the key is another acquisition of the same
site) and the geo-location pretext task (a head predicts the K-means cluster of the site's
location from the query's backbone feature, added with ``geo_weight``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from sklearn.cluster import KMeans
from torch import nn

from core.coords import unit_vectors
from core.image.augment import AugmentConfig, augment
from core.image.registry import get_image_encoder
from core.objectives import LossOutput
from core.train.config import RunConfig
from core.train.device import module_device
from core.geossl.sites import SiteImages
from core.train.tasks import shuffled_batches


class MoCo(nn.Module):
    """MoCo-v2 with an optional geo-cluster classification head on the query backbone."""

    def __init__(self, backbone: nn.Module, feature_dim: int, dim: int, queue_size: int, momentum: float, n_clusters: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Linear(feature_dim, feature_dim), nn.ReLU(), nn.Linear(feature_dim, dim))
        self.key_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.key_head = copy.deepcopy(self.head).requires_grad_(False)
        self.geo_head = nn.Linear(feature_dim, n_clusters) if n_clusters > 0 else None
        self.momentum = momentum
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_pointer", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def _momentum_update(self) -> None:
        for online, target in ((self.backbone, self.key_backbone), (self.head, self.key_head)):
            for p_online, p_target in zip(online.parameters(), target.parameters()):
                p_target.mul_(self.momentum).add_(p_online.detach(), alpha=1 - self.momentum)
            for b_online, b_target in zip(online.buffers(), target.buffers()):
                b_target.copy_(b_online)

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        keys = _gather_from_all_ranks(keys)
        size = len(self.queue)
        positions = (self.queue_pointer + torch.arange(len(keys), device=keys.device)) % size
        self.queue[positions] = keys[:size]
        self.queue_pointer.copy_((self.queue_pointer + len(keys)) % size)

    def forward(self, query: torch.Tensor, key: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(InfoNCE logits ``[B, 1 + queue]`` with the positive at 0, geo-cluster logits or None).

        In training mode the key encoder is momentum-updated first and the keys are enqueued after.
        """
        features = self.backbone(query)
        q = F.normalize(self.head(features), dim=1)
        if self.training:
            self._momentum_update()
        with torch.no_grad():
            k = F.normalize(self.key_head(self.key_backbone(key)), dim=1)
        positive = (q * k).sum(1, keepdim=True)
        negative = q @ self.queue.clone().T
        logits = torch.cat([positive, negative], dim=1) / tau
        if self.training:
            self._enqueue(k)
        geo = self.geo_head(features) if self.geo_head is not None else None
        return logits, geo


def _gather_from_all_ranks(tensor: torch.Tensor) -> torch.Tensor:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    # gloo (GeoCSP's backend, see core.ranks) all-gathers CPU tensors only: a GPU run's keys go through the host
    sent = tensor.cpu() if tensor.is_cuda and dist.get_backend() == "gloo" else tensor
    gathered = [torch.zeros_like(sent) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, sent.contiguous())
    return torch.cat(gathered).to(tensor.device)


def geo_clusters(lonlat: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """K-means cluster of each location, fit on 3-D unit vectors (so clusters wrap the antimeridian)."""
    xyz = unit_vectors(lonlat).astype(np.result_type(lonlat.dtype, np.float32))  # the input's float precision
    k = min(n_clusters, len(np.unique(xyz.round(6), axis=0)))
    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(xyz)


class MoCoTask:
    """Self-supervised training of an image backbone on the training sites' images; labels unused.

    Validation: kNN (k = 20, cosine) top-1 of backbone features of the validation sites against the
    labelled training sites (first acquisition each).
    """

    monitor = "val_knn_top1"
    monitor_mode = "max"

    def __init__(self, config: RunConfig, sites: SiteImages) -> None:
        self.config = config
        self.settings = config.moco
        self.sites = sites
        spec = get_image_encoder(self.settings.backbone)
        self.preprocessing = spec.preprocessing
        self.train_sites = sites.sites("train")
        clusters = np.full(sites.n_sites, -1)
        if self.settings.geo_weight > 0:
            train = self.train_sites.numpy()
            clusters[train] = geo_clusters(sites.lonlat[train], self.settings.n_clusters, config.seed)
        self.clusters = torch.from_numpy(clusters)
        n_clusters = int(clusters.max()) + 1 if self.settings.geo_weight > 0 else 0
        self.model = MoCo(spec.build(), spec.feature_dim, self.settings.dim, self.settings.queue_size, self.settings.momentum, n_clusters)
        self.augment = AugmentConfig()

    def pixels(self, image_indices: torch.Tensor) -> torch.Tensor:
        """uint8 images → float [B, 3, S, S] in [0, 1]."""
        return self.sites.images[image_indices].permute(0, 3, 1, 2).float() / 255.0

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels → the backbone's expected input (its registry preprocessing's mean/std)."""
        mean = torch.tensor(self.preprocessing.mean)[None, :, None, None] / 255.0
        std = torch.tensor(self.preprocessing.std)[None, :, None, None] / 255.0
        return (pixels - mean) / std

    def train_batches(self, epoch: int, generator: torch.Generator, rank: int, world_size: int) -> Iterator[torch.Tensor]:
        return shuffled_batches(self.train_sites, self.config.batch_size, generator, rank, world_size)

    def training_loss(self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator) -> LossOutput:
        device = module_device(model)
        queries, keys = self.sites.positive_pairs(batch, self.settings.temporal_positives, generator)
        query = self.normalise(augment(self.pixels(queries), self.augment, generator)).to(device)
        key = self.normalise(augment(self.pixels(keys), self.augment, generator)).to(device)
        logits, geo = model(query, key, self.settings.tau)
        moco = F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=device))
        parts = {"moco": moco}
        if geo is not None:
            parts["geo"] = self.settings.geo_weight * F.cross_entropy(geo, self.clusters[batch].to(device))
        total = torch.stack(list(parts.values())).sum()
        return LossOutput(total, {name: float(value.detach()) for name, value in parts.items()})

    @torch.no_grad()
    def features(self, sites: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Backbone features of each site's first acquisition (no augmentation), on the CPU."""
        images = self.sites.first_images(sites)
        self.model.eval()
        device = module_device(self.model)
        return torch.cat(
            [
                self.model.backbone(self.normalise(self.pixels(images[i : i + batch_size])).to(device)).cpu()
                for i in range(0, len(images), batch_size)
            ]
        ) if len(images) else torch.zeros(0, 1)

    def validate(self) -> dict[str, float]:
        return {"val_knn_top1": self.knn_accuracy(self.sites.labelled_sites("train"), self.sites.labelled_sites("val"))}

    def knn_accuracy(self, reference: torch.Tensor, query: torch.Tensor, k: int = 20) -> float:
        """Similarity-weighted kNN (cosine) top-1 of ``query`` sites against ``reference`` sites."""
        bank = F.normalize(self.features(reference), dim=1)
        queries = F.normalize(self.features(query), dim=1)
        similarity = queries @ bank.T
        top, index = similarity.topk(min(k, len(reference)), dim=1)
        votes = torch.zeros(len(query), len(self.sites.class_names))
        votes.scatter_add_(1, self.sites.labels[reference][index], (top / 0.07).exp())
        return float((votes.argmax(1) == self.sites.labels[query]).float().mean())
