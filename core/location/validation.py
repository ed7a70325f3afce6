"""Coordinate checks at the encoders' public entry, in torch (no numpy round trip on the hot path)."""

from __future__ import annotations

import math

import torch

from core.coords import CoordinateError, in_canonical_range, validate_lonlat, wrap_longitude


def check_lonlat_tensor(lonlat: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Validate a (lon, lat) degree tensor ``[N, 2]`` and return it as ``dtype`` with longitudes wrapped.

    Raises :class:`CoordinateError` for a non-tensor, a wrong shape, NaN/inf or a latitude outside
    [-90, 90] (never clipped); the message names the first offending row. The cheap part is one
    reduction over the whole tensor (its minimum and maximum; NaN propagates into them): when every
    value lies in [-90, 90] nothing needs attention; otherwise the latitude column's extremes decide.
    Only then is the input searched for the offending row, or its longitudes wrapped. A valid input
    already of ``dtype`` is returned as is, not copied.
    """
    if not isinstance(lonlat, torch.Tensor):
        raise CoordinateError(
            f"expected a float tensor [N, 2] of (lon, lat) degrees, got {type(lonlat).__name__}; "
            "use LocationEncoder.encode(lonlat=...) or core.coords.lonlat_tensor for arrays"
        )
    if lonlat.ndim != 2 or lonlat.shape[1] != 2:
        hint = "; it looks transposed — pass values.T" if lonlat.ndim == 2 and lonlat.shape[0] == 2 else ""
        raise CoordinateError(f"expected coordinates of shape [N, 2] (lon, lat), got {tuple(lonlat.shape)}{hint}")
    points = lonlat.to(dtype)
    if len(points) == 0:
        return points
    low, high = (float(value) for value in torch.aminmax(points.reshape(-1)))  # one pass, both columns
    if in_canonical_range(low, low, high, high):
        return points
    lat_low, lat_high = (float(value) for value in torch.aminmax(points[:, 1]))
    if in_canonical_range(low, lat_low, high, lat_high):  # longitudes lie within [low, high]
        return points
    if not (math.isfinite(low) and math.isfinite(high) and -90.0 <= lat_low and lat_high <= 90.0):
        validate_lonlat(lonlat=points.detach().cpu())  # raises, naming the first offending row
    return torch.stack([wrap_longitude(points[:, 0]), points[:, 1]], dim=1)
