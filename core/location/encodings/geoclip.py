"""GeoCLIP's location encoding: Equal Earth projection, random Fourier features at several σ, one MLP
per σ, outputs summed (Vivanco Cepeda et al., NeurIPS 2023). A network-bearing encoding.

All branches run at once: their frequency matrices and layer weights are stacked along a leading
branch axis and applied with batched matrix products (no Python loop over σ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from core.location.encodings.rff import gaussian_frequencies

EQUAL_EARTH_A = (1.340264, -0.081106, 0.000893, 0.003796)
"""Polynomial coefficients A1..A4 of the Equal Earth projection (Šavrič, Patterson & Jenny 2018)."""
GEOCLIP_SCALE = 66.50336 / 180.0
"""GeoCLIP multiplies the projected (x, y) in radians by 66.50336 / 180 before its Fourier features."""


def equal_earth(lonlat: torch.Tensor) -> torch.Tensor:
    """Equal Earth (x, y) of (lon, lat) degrees ``[N, 2]``, in radians times GeoCLIP's 66.50336/180."""
    a1, a2, a3, a4 = EQUAL_EARTH_A
    lon, lat = torch.deg2rad(lonlat).unbind(dim=1)
    theta = _asin((math.sqrt(3.0) / 2.0) * lat.sin())
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2.0 * math.sqrt(3.0) * lon * theta.cos() / (3.0 * (9.0 * a4 * t6 * t2 + 7.0 * a3 * t6 + 3.0 * a2 * t2 + a1))
    y = theta * (a1 + t2 * (a2 + t2 * t2 * (a3 + a4 * t2)))
    return torch.stack([x, y], dim=1) * GEOCLIP_SCALE


def _asin(values: torch.Tensor) -> torch.Tensor:
    """asin of ``values`` (|values| ≤ √3/2) in their dtype: float32's asin refined by two Newton steps, exact to
    the last bit in float64 yet made of ops every ONNX runtime has in float64 (ONNX Runtime has no float64 asin)."""
    theta = torch.asin(values.float()).to(values.dtype)
    for _ in range(2):
        theta = theta - (theta.sin() - values) / theta.cos()
    return theta


class BranchLinear(nn.Module):
    """``branches`` independent linear layers applied at once to ``[branches, N, in]``."""

    def __init__(self, branches: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        layers = [nn.Linear(in_dim, out_dim) for _ in range(branches)]  # PyTorch's default init, per branch
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[branches, N, in]`` → ``[branches, N, out]``."""
        return torch.baddbmm(self.bias[:, None, :], inputs, self.weight.transpose(1, 2))


class GeoCLIPEncoding(nn.Module):
    """Equal Earth → per-σ RFF [cos(2π B_σ v), sin(2π B_σ v)] → per-σ MLP → sum → ``embed_dim`` features.

    B_σ ~ N(0, σ²) ``[num_frequencies, 2]``, drawn from ``seed`` (or loaded from GeoCLIP's weights);
    each MLP is ``num_layers`` × (Linear, ReLU) of width ``hidden_dim`` then a Linear head.
    GeoCLIP: σ ∈ {2^0, 2^4, 2^8}, 256 frequencies, 3 layers of 1024, 512-d output. Weights and
    computation in ``dtype``.
    """

    def __init__(
        self,
        sigmas: Sequence[float] = (1.0, 16.0, 256.0),
        num_frequencies: int = 256,
        hidden_dim: int = 1024,
        num_layers: int = 3,
        embed_dim: int = 512,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if not sigmas:
            raise ValueError("sigmas: need at least one σ")
        frequencies = [gaussian_frequencies(num_frequencies, 2, float(s), seed + i) for i, s in enumerate(sigmas)]
        self.register_buffer("frequencies", torch.stack(frequencies))
        widths = [2 * num_frequencies] + [hidden_dim] * num_layers + [embed_dim]
        self.layers = nn.ModuleList(BranchLinear(len(sigmas), i, o) for i, o in zip(widths[:-1], widths[1:]))
        self.out_dim = embed_dim
        self.to(dtype)

    def fourier_features(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Per-branch random Fourier features of the projected point, ``[branches, N, 2F]`` (cos first).

        The projection and the phases are computed in float64 and the features rounded once to the encoding's
        dtype: the phases reach ~6 400 rad, where float32 carries ±2e-3 rad of rounding that depends on the
        runtime's sin/asin and its fused multiply-adds, enough to move the embedding by 3e-5 between torch and
        ONNX Runtime (or between batch sizes). Cheap beside the branch MLPs."""
        phase = (2.0 * math.pi) * torch.matmul(equal_earth(lonlat.double()), self.frequencies.double().transpose(1, 2))
        return torch.cat([phase.cos(), phase.sin()], dim=2).to(self.frequencies.dtype)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        hidden = self.fourier_features(lonlat)
        for layer in self.layers[:-1]:
            hidden = torch.relu(layer(hidden))
        return self.layers[-1](hidden).sum(dim=0)
