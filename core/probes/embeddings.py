"""Location embeddings to probe, named by one short string each.

=====================================  =====================================================================
``lonlat``                             raw (lon, lat) degrees (baseline)
``xyz``                                3-D unit vector (baseline)
``encoding:NAME[:k=v,k=v]``            a bare positional encoding of the registry (:mod:`core.location.registry`),
                                       e.g. ``encoding:spherical_harmonics:degree=10``, ``encoding:theory``
``untrained:NAME``                     the encoding with its default network, randomly initialised (seed 0)
``untrained:run:PATH``                 a run's own recipe (encoding, network, size, embedding layer) at random
                                       weights from the run's seed: the untrained baseline of that run
``geoclip``                            GeoCLIP's released location encoder (512-d)
``run:PATH[:LAYER]``                   a trained run's location encoder (pretrain or finetune run folder);
                                       LAYER is one of :data:`RUN_LAYERS` (default ``embedding``: the layer
                                       the run's ``location.embedding`` names, what the app uses)
``model:PATH[:LAYER]``                 an exported model folder (``python -m core encoder export``), layers as
                                       for a run
=====================================  =====================================================================

Encoders are built and loaded by :func:`core.location.loading.load_choice` and
:func:`core.location.loading.run_location_encoder` (no second run reader here). Embeddings are not
normalised: the probes standardise each feature inside their cross-validation pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from core.location import loading as encoders
from core.coords import unit_vectors, validate_lonlat
from core.location import ENCODINGS, ConfigError, LocationEncoder, build_location_encoder, geoclip_status
from core.train.checkpoint import CheckpointError

#: Layers of a trained run's location encoder that can be probed.
RUN_LAYERS = {
    "embedding": "the run's own embedding layer (its location.embedding: output or concat)",
    "output": "the network's output (the embedding CSP trains)",
    "penultimate": "the input of the network's last linear layer",
    "encoding": "the positional encoding in front of the network",
    "concat": "the positional encoding and the network output, side by side",
}
KINDS = ("lonlat", "xyz", "encoding", "untrained", "untrained_run", "geoclip", "run", "model")
#: The baselines and bare encodings every probe table starts with.
BASELINE_EMBEDDINGS = (
    "lonlat", "xyz", "encoding:wrap", "encoding:theory", "encoding:spherical_harmonics:degree=10", "untrained:theory",
)
BATCH_SIZE = 8192


class EmbeddingError(ValueError):
    """An embedding that cannot be named, built or loaded; the message says why."""


@dataclass(frozen=True)
class EmbeddingSpec:
    """One embedding to probe: ``kind`` (one of :data:`KINDS`), ``name`` (encoding name or run folder),
    ``params`` (encoding params) and ``layer`` (for runs)."""

    kind: str
    name: str = ""
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    layer: str = "embedding"

    @property
    def key(self) -> str:
        """Everything that identifies the embedding (runs by their full path, unlike :attr:`label`): a cache key."""
        return f"{self.kind}:{self.name}:{self.layer}:{sorted(self.params.items())}"

    @property
    def label(self) -> str:
        """The spec as text (parses back with :func:`parse_embedding`); runs are shown by folder name."""
        if self.kind in ("lonlat", "xyz", "geoclip"):
            return self.kind
        if self.kind in ("run", "model"):
            return f"{self.kind}:{Path(self.name).name}" + ("" if self.layer == "embedding" else f":{self.layer}")
        if self.kind == "untrained_run":
            return f"untrained:run:{Path(self.name).name}"
        options = ",".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return f"{self.kind}:{self.name}" + (f":{options}" if options else "")


def parse_embedding(text: str) -> EmbeddingSpec:
    """The :class:`EmbeddingSpec` of a string in the module docstring's grammar; :class:`EmbeddingError` if malformed."""
    text = str(text).strip()
    kind, _, rest = text.partition(":")
    if kind in ("lonlat", "xyz", "geoclip"):
        if rest:
            raise EmbeddingError(f"{text!r}: {kind!r} takes no options")
        return EmbeddingSpec(kind)
    if kind == "untrained" and rest.startswith("run:"):
        if not rest.removeprefix("run:"):
            raise EmbeddingError(f"{text!r}: give a run folder, e.g. untrained:run:runs/pretrain-…")
        return EmbeddingSpec("untrained_run", rest.removeprefix("run:"))
    if kind in ("encoding", "untrained"):
        name, _, options = rest.partition(":")
        if name not in ENCODINGS:
            raise EmbeddingError(f"{text!r}: unknown encoding {name!r}; choose from {sorted(ENCODINGS)}")
        if kind == "untrained" and options:
            raise EmbeddingError(f"{text!r}: an untrained encoder takes no options (it uses the defaults, seed 0)")
        try:
            params = encoders.parse_options(options)
        except ValueError as error:
            raise EmbeddingError(f"{text!r}: {error}") from None
        return EmbeddingSpec(kind, name, params)
    if kind in ("run", "model"):
        path, _, layer = rest.rpartition(":")
        if layer not in RUN_LAYERS:
            path, layer = rest, "embedding"
        if not path:
            example = "run:runs/pretrain-…" if kind == "run" else "model:data/models/…"
            raise EmbeddingError(f"{text!r}: give a {kind} folder, e.g. {example}[:{'|'.join(RUN_LAYERS)}]")
        return EmbeddingSpec(kind, path, layer=layer)
    raise EmbeddingError(
        f"{text!r}: unknown embedding; use one of lonlat, xyz, geoclip, encoding:NAME[:k=v], untrained:NAME, "
        "untrained:run:PATH, run:PATH[:LAYER], model:PATH[:LAYER]"
    )


def default_embeddings(runs_root: Path | None = None) -> list[str]:
    """:data:`BASELINE_EMBEDDINGS`, GeoCLIP when its weights are installed, and the newest usable pre-training
    run under ``runs_root`` (default: the runs folder), if any, after its own recipe untrained."""
    from core.workflows.predict import usable_runs

    names = list(BASELINE_EMBEDDINGS)
    if geoclip_status()[0]:
        names.append("geoclip")
    runs = usable_runs("pretrain", runs_root)
    if runs:
        names += [f"untrained:run:{runs[0].run_dir}", f"run:{runs[0].run_dir}"]
    return names


def as_spec(embedding: str | EmbeddingSpec) -> EmbeddingSpec:
    """``embedding`` parsed when it is text."""
    return embedding if isinstance(embedding, EmbeddingSpec) else parse_embedding(embedding)


def embed(embedding: str | EmbeddingSpec, lonlat: ArrayLike) -> np.ndarray:
    """float32 ``[N, D]`` embedding of (lon, lat) degree rows; :class:`EmbeddingError` when it cannot be built."""
    spec = as_spec(embedding)
    points = validate_lonlat(lonlat=lonlat).astype(np.float64)
    if spec.kind == "lonlat":
        return points.astype(np.float32)
    if spec.kind == "xyz":
        return unit_vectors(points).astype(np.float32)
    encoder = load_spec_encoder(spec)
    layer = "encoding" if spec.kind == "encoding" else spec.layer
    return encode_layer(encoder, points, layer)


def load_spec_encoder(spec: EmbeddingSpec) -> LocationEncoder:
    """The location encoder behind an encoder-backed spec, in eval mode."""
    try:
        if spec.kind == "encoding":
            return build_location_encoder({"encoding": spec.name, "encoding_params": dict(spec.params)}).eval()
        if spec.kind == "run":
            return encoders.run_location_encoder(spec.name)
        if spec.kind == "model":
            return encoders.load_encoder(spec.name)
        if spec.kind == "untrained_run":
            return encoders.untrained_run_encoder(spec.name)
        choice = encoders.EncoderChoice("pretrained", "geoclip") if spec.kind == "geoclip" else encoders.EncoderChoice("untrained", spec.name)
        return encoders.load_choice(choice)
    except (encoders.EncoderLoadError, CheckpointError, ConfigError, OSError) as error:
        raise EmbeddingError(f"{spec.label}: {error}") from error


@torch.no_grad()
def encode_layer(encoder: LocationEncoder, lonlat: np.ndarray, layer: str = "embedding") -> np.ndarray:
    """float32 ``[N, D]``: the chosen layer (a key of :data:`RUN_LAYERS`) of ``encoder`` at (lon, lat) rows."""
    if layer not in RUN_LAYERS:
        raise EmbeddingError(f"unknown layer {layer!r}; choose from {sorted(RUN_LAYERS)}")
    device = next((t.device for t in [*encoder.parameters(), *encoder.buffers()]), torch.device("cpu"))
    parts = []
    for batch in torch.as_tensor(lonlat, dtype=torch.float32).split(BATCH_SIZE):
        parts.append(_layer_of_batch(encoder, batch.to(device), layer).float().cpu())
    return torch.cat(parts).numpy()


def _layer_of_batch(encoder: LocationEncoder, lonlat: torch.Tensor, layer: str) -> torch.Tensor:
    if layer == "embedding":
        return encoder.embed(lonlat)
    if layer == "encoding":
        return encoder.features(lonlat)
    if layer == "concat":
        features = encoder.features(lonlat)
        return torch.cat([features.float(), encoder.network(features.float())], dim=1)
    if layer == "penultimate":
        return _input_of_last_linear(encoder, lonlat)
    return encoder(lonlat)


def _input_of_last_linear(encoder: LocationEncoder, lonlat: torch.Tensor) -> torch.Tensor:
    """What the network's last ``nn.Linear`` receives (the encoding itself for a network without one)."""
    linears = [module for module in encoder.network.modules() if isinstance(module, nn.Linear)]
    if not linears:
        return encoder.features(lonlat)
    captured: list[torch.Tensor] = []

    def keep_input(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        captured.append(inputs[0])

    handle = linears[-1].register_forward_pre_hook(keep_input)
    try:
        encoder(lonlat)
    finally:
        handle.remove()
    return captured[-1]
