"""The CSP stages as :class:`core.train.loop.Task` s: pre-training, location and image classifiers."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from core.evaluate import predict_logits
from core.location.encoder import LocationEncoder, build_location_encoder
from core.location.networks import embed_with_second_view
from core.objectives import (
    LossOutput,
    MCSSLWeights,
    clip_loss,
    cross_entropy_loss,
    info_nce,
    mcssl_loss,
    mse_loss,
    nce_loss,
    presence_only_loss,
)
from core.train.config import PretrainConfig, RunConfig
from core.train.data import FeatureData
from core.train.device import module_device
from core.train.negatives import NegativeSampler, sphere_points


def require_split_sizes(data: FeatureData, counts: dict[str, int], needed: int, what: str) -> None:
    """Refuse, naming each short split, when a split holds fewer than ``needed`` of the ``what`` a task uses."""
    short = [f"{name} ({count})" for name, count in counts.items() if count < needed]
    if short:
        raise ValueError(
            f"too few {what} in split {', '.join(short)}: this stage needs at least {needed} in each of "
            f"{', '.join(counts)} (split: {data.split_method})"
        )


def shuffled_batches(
    indices: torch.Tensor, batch_size: int, generator: torch.Generator, rank: int = 0, world_size: int = 1
) -> Iterator[torch.Tensor]:
    """This rank's share of each global batch of a seeded permutation (global batches < 2 dropped)."""
    order = indices[torch.randperm(len(indices), generator=generator)]
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        if len(batch) >= 2 * world_size:
            yield batch[rank::world_size]


ENCODING_CACHE_BYTES = 512 * 2**20
"""Largest per-run cache of the records' positional encodings (float32 bytes)."""


def cached_encodings(location: LocationEncoder, lonlat: torch.Tensor, budget: int = ENCODING_CACHE_BYTES) -> torch.Tensor | None:
    """``location``'s positional encoding of every point, computed once for a run, or None when it must
    be computed per step: the encoding has parameters (it changes while training, e.g. geoclip's MLPs)
    or the cache would exceed ``budget`` bytes.

    A parameter-free encoding (every other one: its constants are buffers) is a fixed function of the
    point without dropout, so its cached value is the value a step would compute.
    """
    encoding = location.encoding
    has_parameters = next(encoding.parameters(), None) is not None
    if has_parameters or not 0 < len(lonlat) * encoding.out_dim * 4 <= budget:
        return None
    device = module_device(location)
    with torch.no_grad():
        return torch.cat([location.features(chunk.to(device)) for chunk in lonlat.split(65536)])


class CSPModel(nn.Module):
    """Location encoder e(x) and image-feature projection g(f) into one embedding space."""

    def __init__(self, location: LocationEncoder, feature_dim: int, projection: str = "linear", clip: bool = False):
        super().__init__()
        self.location = location
        dim = location.output_dim
        self.projection = (
            nn.Linear(feature_dim, dim)
            if projection == "linear"
            else nn.Sequential(nn.Linear(feature_dim, 512), nn.ReLU(), nn.Linear(512, dim))
        )
        # CLIP's learnable temperature, τ = exp(-log_inverse_tau), initialised at τ = 0.07.
        self.log_inverse_tau = nn.Parameter(torch.tensor(math.log(1 / 0.07))) if clip else None

    def forward(
        self,
        lonlat: torch.Tensor | None,
        features: torch.Tensor,
        negatives: torch.Tensor | None = None,
        second_pass: bool = False,
        encoded: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(e(x), g(f), e(x⁻) ``[B, K, D]`` or None, e'(x) under a second dropout mask or None).

        One pass of the network embeds the positives and the negatives together, each row under its
        own dropout mask, and adds the SimCSE view of the positives (see
        :func:`core.location.networks.embed_with_second_view`), so each layer runs one matmul per step.
        ``encoded`` is ``lonlat``'s positional encoding when the caller has it (``lonlat`` is then not read).
        """
        positives = self.location.features(lonlat) if encoded is None else encoded
        rows = positives
        if negatives is not None:
            rows = torch.cat([positives, self.location.features(negatives.reshape(-1, 2))])
        batch = len(positives)
        if second_pass:
            embedded, second = embed_with_second_view(self.location.network, rows, batch)
        else:
            embedded, second = self.location.network(rows), None
        negative = embedded[batch:].reshape(batch, negatives.shape[1], -1) if negatives is not None else None
        return embedded[:batch], self.projection(features), negative, second


class PretrainTask:
    """CSP pre-training on the training split's (feature, location) pairs; labels are never read.

    The positional encodings of the records are computed once, at the first step (see
    :func:`cached_encodings`); each step then encodes only its random negative locations.
    """

    monitor = "val_loss"
    monitor_mode = "min"

    def __init__(self, config: RunConfig, data: FeatureData, sampler: NegativeSampler | None = None) -> None:
        self.config = config
        self.objective: PretrainConfig = config.pretrain
        self.data = data
        train = data.indices("train")
        location = build_location_encoder(config.location_config(), train_lonlat=data.lonlat[train])
        self.model = CSPModel(location, data.feature_dim, self.objective.projection, clip=self.objective.objective == "clip")
        self.weights = MCSSLWeights(
            in_batch=self.objective.in_batch,
            negative_location=self.objective.negative_location,
            simcse=self.objective.simcse,
            tau_in_batch=self.objective.tau_in_batch,
            tau_negative_location=self.objective.tau_negative_location,
            tau_simcse=self.objective.tau_simcse,
        )
        uses_negatives = self.objective.objective == "mcssl" and self.weights.negative_location > 0
        self.sampler = (sampler or NegativeSampler(self.objective.negative_sampler, self.objective.near_radius_km)) if uses_negatives else None
        self.train_indices = train
        self.val_indices = data.indices("val")
        counts = {name: len(data.indices(name)) for name in ("train", "val", "test")}
        require_split_sizes(data, counts, 2, "located records")

    def train_batches(self, epoch: int, generator: torch.Generator, rank: int, world_size: int) -> Iterator[torch.Tensor]:
        return shuffled_batches(self.train_indices, self.config.batch_size, generator, rank, world_size)

    def training_loss(self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator) -> LossOutput:
        device = module_device(model)
        lonlat = self.data.lonlat.index_select(0, batch)
        negatives = self.sampler(lonlat, self.objective.num_negatives, generator).to(device) if self.sampler else None
        second_pass = self.objective.objective == "mcssl" and self.weights.simcse > 0
        features = self.data.features.index_select(0, batch).to(device)
        location, image, negative, second = model(lonlat.to(device), features, negatives, second_pass, self._encoded(batch))
        kind = self.objective.objective
        if kind == "mcssl":
            return mcssl_loss(location, image, self.weights, negative, second)
        if kind == "nce":
            return nce_loss(location, image, self.weights.tau_in_batch)
        if kind == "mse":
            return mse_loss(location, image)
        return clip_loss(location, image, self.model.log_inverse_tau)

    @functools.cached_property
    def encoded(self) -> torch.Tensor | None:
        """The records' positional encodings, computed at first use (see :func:`cached_encodings`)."""
        return cached_encodings(self.model.location, self.data.lonlat)

    def _encoded(self, indices: torch.Tensor) -> torch.Tensor | None:
        return None if self.encoded is None else self.encoded.index_select(0, indices.to(self.encoded.device))

    def validate(self) -> dict[str, float]:
        return self.evaluate(self.val_indices)

    def evaluate(self, indices: torch.Tensor) -> dict[str, float]:
        """In-batch InfoNCE and location→image retrieval top-1 over chunks of the batch size."""
        losses, hits, count = [], 0, 0
        size = max(2, min(self.config.batch_size, len(indices)))
        device = module_device(self.model)
        for start in range(0, len(indices) - 1, size):
            chunk = indices[start : start + size]
            if len(chunk) < 2:
                continue
            location, image, _, _ = self.model(
                self.data.lonlat[chunk].to(device), self.data.features[chunk].to(device), encoded=self._encoded(chunk)
            )
            losses.append(float(info_nce(location, image, self.weights.tau_in_batch)) * len(chunk))
            similarity = F.normalize(location, dim=-1) @ F.normalize(image, dim=-1).T
            hits += int((similarity.argmax(1).cpu() == torch.arange(len(chunk))).sum())
            count += len(chunk)
        if count == 0:
            raise ValueError("fewer than 2 located records to evaluate pre-training on")
        return {"val_loss": sum(losses) / count, "val_retrieval_top1": hits / count}


class LocationClassifier(nn.Module):
    """P(y|x): a location encoder with a linear class head."""

    def __init__(self, location: LocationEncoder, n_classes: int) -> None:
        super().__init__()
        self.location = location
        self.head = nn.Linear(location.output_dim, n_classes)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.head(self.location(lonlat))


class ImageClassifier(nn.Module):
    """P(y|I): a linear classifier (with input dropout) on standardised frozen image features."""

    def __init__(self, feature_dim: int, n_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_buffer("scale", torch.ones(feature_dim))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, n_classes))

    def fit_standardisation(self, features: torch.Tensor) -> None:
        """Set the input standardisation from (training) features."""
        self.mean.copy_(features.mean(0))
        self.scale.copy_(features.std(0).clamp_min(1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head((features - self.mean) / self.scale)


class ClassifierTask:
    """Supervised training of a classifier over one input tensor (locations or image features).

    Trains on ``train_indices`` (a label budget), validates top-1 on the validation split.
    ``random_inputs`` (random locations) is needed by the presence-only loss.
    """

    monitor = "val_top1"
    monitor_mode = "max"

    def __init__(
        self,
        config: RunConfig,
        model: nn.Module,
        inputs: torch.Tensor,
        data: FeatureData,
        train_indices: torch.Tensor,
        loss: str = "cross_entropy",
        random_inputs: Callable[[int, torch.Generator], torch.Tensor] | None = None,
    ) -> None:
        if len(train_indices) < 2:
            raise ValueError(f"only {len(train_indices)} labelled training records: raise finetune.label_ratio")
        if loss == "presence_only" and random_inputs is None:
            raise ValueError("the presence-only loss needs random locations: use it for location classifiers")
        self.config = config
        self.model = model
        self.inputs = inputs
        self.data = data
        self.train_indices = train_indices
        self.val_indices = data.labelled_indices("val")
        counts = {name: len(data.labelled_indices(name)) for name in ("val", "test")}
        require_split_sizes(data, counts, 1, "labelled records")
        self.loss = loss
        self.random_inputs = random_inputs

    def train_batches(self, epoch: int, generator: torch.Generator, rank: int, world_size: int) -> Iterator[torch.Tensor]:
        return shuffled_batches(self.train_indices, self.config.batch_size, generator, rank, world_size)

    def training_loss(self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator) -> LossOutput:
        device = module_device(model)
        labels = self.data.labels[batch].to(device)
        if self.loss == "presence_only":
            both = model(torch.cat([self.inputs[batch], self.random_inputs(len(batch), generator)]).to(device))
            return presence_only_loss(both[: len(batch)], labels, both[len(batch) :])
        return cross_entropy_loss(model(self.inputs[batch].to(device)), labels)

    def validate(self) -> dict[str, float]:
        logits = predict_logits(self.model, self.inputs[self.val_indices])
        labels = self.data.labels[self.val_indices]
        return {
            "val_top1": float((logits.argmax(1) == labels).float().mean()),
            "val_loss": float(F.cross_entropy(logits, labels)),
        }


def location_classifier_task(config: RunConfig, data: FeatureData, encoder_state: dict | None = None) -> ClassifierTask:
    """Fine-tuning task for P(y|x) on the ``finetune.label_ratio`` budget, optionally from pre-trained weights."""
    train = data.label_budget(config.finetune.label_ratio)
    location = build_location_encoder(config.location_config(), train_lonlat=data.lonlat[data.indices("train")])
    if encoder_state is not None:
        location.load_state_dict(encoder_state)
    if config.finetune.freeze_encoder:
        location.requires_grad_(False)
    model = LocationClassifier(location, data.n_classes)
    return ClassifierTask(config, model, data.lonlat, data, train, config.finetune.loss, sphere_points)


def image_classifier_task(config: RunConfig, data: FeatureData) -> ClassifierTask:
    """P(y|I) on the same label budget, from frozen image features."""
    train = data.label_budget(config.finetune.label_ratio)
    model = ImageClassifier(data.feature_dim, data.n_classes)
    model.fit_standardisation(data.features[data.indices("train")])
    return ClassifierTask(config, model, data.features, data, train)
