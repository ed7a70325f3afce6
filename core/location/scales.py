"""Geometric scale ladders shared by the multi-scale encodings (Space2Vec, Sphere2Vec)."""

from __future__ import annotations

import torch


def geometric_scales(num_scales: int, r_min: float, r_max: float) -> torch.Tensor:
    """λ_s = r_min · (r_max / r_min)^(s / (S-1)) for s = 0..S-1, float64 ``[S]`` (λ_0 = r_min when S = 1).

    Float64 so that the encodings' float64 path matches the reference implementations; the float32
    path rounds the inverse scales once.
    """
    s = torch.arange(num_scales, dtype=torch.float64)
    exponent = s / max(num_scales - 1, 1)
    return r_min * (r_max / r_min) ** exponent
