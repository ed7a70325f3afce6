"""The location-encoder config: encoding + network names, their params and the output size.

Round-trips through dict, JSON and YAML; unknown keys and bad values raise :class:`ConfigError`
naming the key. Resolution fills the defaults, so a saved config states everything it used (except
``precision``, written only when it is not the default float32, so that configs saved before the
option existed still compare equal to freshly resolved ones).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import yaml

from core.location.params import ConfigError, resolve_params
from core.location.registry import ENCODINGS, NETWORKS

DEFAULT_OUTPUT_DIM = 256
"""Embedding size when ``output_dim`` is not given (the identity network keeps the encoding's size)."""
PRECISIONS = {"float32": torch.float32, "float64": torch.float64}
"""The dtypes a positional encoding can be computed in, by config name."""
DEFAULT_PRECISION = "float32"
EMBEDDINGS = ("output", "concat")
"""What :meth:`core.location.encoder.LocationEncoder.embed` returns: the network's output, or the
positional encoding and the network's output side by side."""
DEFAULT_EMBEDDING = "output"


@dataclass
class LocationEncoderConfig:
    """Which encoding and network to use, with their params and the embedding size ``output_dim``.

    ``network=None`` picks the encoding's default network (fcnet for most; mlp for wrap_ffn, siren
    for spherical_harmonics, identity for geoclip). ``output_dim=None`` means 256, or the encoding's
    own size with the identity network.

    ``precision`` is the dtype the positional encoding is computed in: ``"float32"`` (default) or
    ``"float64"``, which reproduces the float64 reference implementations (CSP, TorchSpatial, SatCLIP)
    to 1e-6 where float32 differs by up to ~5e-4 at the finest scales (angles ~10³ rad), and is 2–3×
    slower. The features are cast to float32 for the network either way. Float32 is the default
    because the inputs are float32 degrees (a ulp of 1.5e-5° at ±180°, which at those scales already
    moves the angle by as much) and trained networks cannot use the extra digits.

    ``embedding`` is the one place that says which layer is the location *embedding* that probes, the
    embedding map and the encoder inspector read (:meth:`~core.location.encoder.LocationEncoder.embed`):
    ``"output"`` (the network's output, what CSP's objective trains) or ``"concat"`` (the
    positional encoding's features and the network's output side by side: the network adds what
    pre-training learnt without discarding the detail the encoding had). Training and the fine-tuned
    classifier always use the network's output.
    """

    encoding: str = "theory"
    encoding_params: dict[str, Any] = field(default_factory=dict)
    network: str | None = None
    network_params: dict[str, Any] = field(default_factory=dict)
    output_dim: int | None = None
    precision: str = DEFAULT_PRECISION
    embedding: str = DEFAULT_EMBEDDING

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"encoding: unknown {self.encoding!r}; choose from {sorted(ENCODINGS)}")
        spec = ENCODINGS[self.encoding]
        self.encoding_params = resolve_params("encoding_params", spec.params, self.encoding_params)
        self.network = spec.default_network if self.network is None else self.network
        if self.network not in NETWORKS:
            raise ConfigError(f"network: unknown {self.network!r}; choose from {sorted(NETWORKS)}")
        self.network_params = resolve_params("network_params", NETWORKS[self.network].params, self.network_params)
        if self.output_dim is None and self.network != "identity":
            self.output_dim = DEFAULT_OUTPUT_DIM
        if self.output_dim is not None and (isinstance(self.output_dim, bool) or not isinstance(self.output_dim, int) or self.output_dim < 1):
            raise ConfigError(f"output_dim: must be a positive integer, got {self.output_dim!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision: must be one of {sorted(PRECISIONS)}, got {self.precision!r}")
        if self.embedding not in EMBEDDINGS:
            raise ConfigError(f"embedding: must be one of {list(EMBEDDINGS)}, got {self.embedding!r}")

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype of :attr:`precision`."""
        return PRECISIONS[self.precision]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-safe) of the resolved config (``precision`` and ``embedding`` only when not the default)."""
        values = dataclasses.asdict(self)
        if values["precision"] == DEFAULT_PRECISION:
            del values["precision"]
        if values["embedding"] == DEFAULT_EMBEDDING:
            del values["embedding"]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LocationEncoderConfig:
        """Build from a dict; unknown top-level keys are refused by name."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"a location-encoder config must be a mapping, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LocationEncoderConfig:
        """Parse JSON text written by :meth:`to_json` (or by hand)."""
        return cls.from_dict(json.loads(text))

    def to_yaml(self) -> str:
        """YAML text of :meth:`to_dict`."""
        return yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str) -> LocationEncoderConfig:
        """Parse YAML text (safe loader only)."""
        return cls.from_dict(yaml.safe_load(text))
