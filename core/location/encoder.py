"""LocationEncoder = positional encoding ∘ network, built from a :class:`LocationEncoderConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from numpy.typing import ArrayLike
from torch import nn

from core.coords import CoordinateError, validate_lonlat
from core.location.config import LocationEncoderConfig
from core.location.params import ConfigError
from core.location.registry import ENCODINGS, NETWORKS
from core.location.validation import check_lonlat_tensor


class LocationEncoder(nn.Module):
    """Maps (lon, lat) degrees ``[N, 2]`` to float32 embeddings ``[N, output_dim]``.

    ``train_lonlat`` (``[M, 2]`` (lon, lat)) is only read by encodings that sample from the
    training locations (rbf centres). Inputs are validated in torch at :meth:`forward` (one pass) and
    converted to the config's ``precision``, the dtype the encoding computes in; the network gets
    float32 features.
    """

    config: LocationEncoderConfig
    """The config the encoder was built from (encoding, network, sizes, embedding layer, precision)."""
    encoding: nn.Module
    """The positional encoding: (lon, lat) degrees ``[N, 2]`` → features ``[N, encoding.out_dim]``."""
    network: nn.Module
    """The network after the encoding (``identity`` for a bare encoding)."""
    output_dim: int
    """Size of the network's output (:meth:`forward`); :attr:`embedding_dim` is :meth:`embed`'s."""

    def __init__(self, config: LocationEncoderConfig, *, train_lonlat: ArrayLike | torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        try:
            self.encoding = ENCODINGS[config.encoding].factory(dict(config.encoding_params), train_lonlat, config.dtype)
        except CoordinateError:
            raise
        except ValueError as error:
            raise ConfigError(f"encoding_params.{error}") from None
        in_dim = self.encoding.out_dim
        self.output_dim = in_dim if config.output_dim is None else config.output_dim
        try:
            self.network = NETWORKS[config.network].cls(in_dim, self.output_dim, **config.network_params)
        except ValueError as error:
            raise ConfigError(str(error)) from None

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Embed (lon, lat) degrees ``[N, 2]``; raises CoordinateError on NaN, |lat| > 90 or a wrong shape."""
        return self.network(self.features(lonlat).to(torch.float32))

    @property
    def embedding_dim(self) -> int:
        """Size of :meth:`embed`'s output."""
        if self.config.embedding == "concat":
            return self.encoding.out_dim + self.output_dim
        return self.output_dim

    def embed(self, lonlat: torch.Tensor) -> torch.Tensor:
        """The location embedding ``[N, embedding_dim]`` float32: the layer the config's ``embedding`` names
        (the network's output, or the encoding's features and the network's output side by side)."""
        return self.embed_checked(check_lonlat_tensor(lonlat, self.config.dtype))

    def embed_checked(self, points: torch.Tensor) -> torch.Tensor:
        """:meth:`embed` of points already checked and wrapped (as :func:`check_lonlat_tensor` returns them, in the
        config's dtype): no data-dependent branch, so it traces into a graph (:mod:`core.location.export`)."""
        features = self.encoding(points).to(torch.float32)
        output = self.network(features)
        return torch.cat([features, output], dim=1) if self.config.embedding == "concat" else output

    def features(self, lonlat: torch.Tensor) -> torch.Tensor:
        """The positional encoding alone, ``[N, encoding.out_dim]`` in the config's precision (validated like :meth:`forward`)."""
        return self.encoding(check_lonlat_tensor(lonlat, self.config.dtype))

    def encode(self, values: ArrayLike | None = None, *, lonlat: ArrayLike | None = None, latlon: ArrayLike | None = None) -> torch.Tensor:
        """Embed arrays or lists with their order stated (``lonlat=`` or ``latlon=``; positional is (lon, lat))."""
        points = torch.from_numpy(validate_lonlat(values, lonlat=lonlat, latlon=latlon))
        tensors = [*self.parameters(), *self.buffers()]
        return self(points.to(tensors[0].device if tensors else points.device))


def build_location_encoder(
    config: LocationEncoderConfig | Mapping[str, Any] | None = None, *, train_lonlat: ArrayLike | torch.Tensor | None = None
) -> LocationEncoder:
    """A :class:`LocationEncoder` from a config or a plain dict (None: the default config)."""
    if config is None:
        config = LocationEncoderConfig()
    elif not isinstance(config, LocationEncoderConfig):
        config = LocationEncoderConfig.from_dict(config)
    return LocationEncoder(config, train_lonlat=train_lonlat)
