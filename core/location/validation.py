"""Coordinate checks at the encoders' public entry, in torch (no numpy round trip on the hot path)."""

from __future__ import annotations

import torch

from core.coords import CoordinateError, wrap_longitude


def check_lonlat_tensor(lonlat: torch.Tensor) -> torch.Tensor:
    """Validate a (lon, lat) degree tensor ``[N, 2]`` and return it as float32 with longitudes wrapped.

    Raises :class:`CoordinateError` for a non-tensor, a wrong shape, NaN/inf or a latitude outside
    [-90, 90] (never clipped); the message names the first offending row.
    """
    if not isinstance(lonlat, torch.Tensor):
        raise CoordinateError(
            f"expected a float tensor [N, 2] of (lon, lat) degrees, got {type(lonlat).__name__}; "
            "use LocationEncoder.encode(lonlat=...) or core.coords.lonlat_tensor for arrays"
        )
    if lonlat.ndim != 2 or lonlat.shape[1] != 2:
        hint = "; it looks transposed — pass values.T" if lonlat.ndim == 2 and lonlat.shape[0] == 2 else ""
        raise CoordinateError(f"expected coordinates of shape [N, 2] (lon, lat), got {tuple(lonlat.shape)}{hint}")
    if not lonlat.is_floating_point():
        lonlat = lonlat.to(torch.float32)
    finite = torch.isfinite(lonlat).all(dim=1)
    if not bool(finite.all()):
        bad = int(torch.nonzero(~finite)[0, 0])
        lon, lat = lonlat[bad].tolist()
        raise CoordinateError(f"coordinate {bad} is not finite: lon={lon}, lat={lat} (read as (lon, lat))")
    lat = lonlat[:, 1]
    outside = lat.abs() > 90.0
    if bool(outside.any()):
        bad = int(torch.nonzero(outside)[0, 0])
        hint = ""
        if bool((lonlat[:, 0].abs() <= 90.0).all()):
            hint = "; the pair looks swapped (its longitude would be a valid latitude) — did you mean latlon=...?"
        raise CoordinateError(f"latitude {float(lat[bad]):.6g} of coordinate {bad} is outside [-90, 90] (read as (lon, lat)){hint}")
    return torch.stack([wrap_longitude(lonlat[:, 0]), lat], dim=1).to(torch.float32)
