"""Typed coordinates: (lon, lat) in degrees, validated, longitudes wrapped, latitudes never clipped."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike


class CoordinateError(ValueError):
    """Coordinates that cannot be used: NaN, latitude out of [-90, 90], wrong shape, likely swapped order."""


def wrap_longitude(lon: np.ndarray | torch.Tensor | float):
    """Map longitudes to [-180, 180)."""
    return (lon + 180.0) % 360.0 - 180.0


def _as_pairs(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float64)
    if array.ndim == 1 and array.shape[0] == 2:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 2:
        raise CoordinateError(f"expected coordinates of shape [N, 2], got {tuple(array.shape)}")
    return array


def validate_lonlat(
    values: ArrayLike | None = None, *, lonlat: ArrayLike | None = None, latlon: ArrayLike | None = None
) -> np.ndarray:
    """Validate coordinates given with their order stated and return float64 ``[N, 2]`` (lon, lat).

    Exactly one of ``lonlat=`` / ``latlon=`` (or a positional value, read as (lon, lat)) is accepted.
    Raises :class:`CoordinateError` on NaN/inf, latitude outside [-90, 90] (with a hint when the
    pair looks swapped) or a wrong shape. Longitudes are wrapped to [-180, 180).
    """
    given = [v for v in (values, lonlat, latlon) if v is not None]
    if len(given) != 1:
        raise CoordinateError("pass exactly one of: a (lon, lat) array, lonlat=..., latlon=...")
    pairs = _as_pairs(given[0])
    if latlon is not None:
        pairs = pairs[:, ::-1]
        order = "(lat, lon)"
    else:
        order = "(lon, lat)"
    if not np.isfinite(pairs).all():
        bad = int(np.flatnonzero(~np.isfinite(pairs).all(axis=1))[0])
        raise CoordinateError(f"coordinate {bad} is not finite: {pairs[bad].tolist()} given as {order}")
    lat = pairs[:, 1]
    out_of_range = np.abs(lat) > 90.0
    if out_of_range.any():
        bad = int(np.flatnonzero(out_of_range)[0])
        hint = ""
        if (np.abs(pairs[:, 0]) <= 90.0).all():
            other = "latlon=" if latlon is None else "lonlat="
            hint = f"; the values look like the other order — did you mean {other}?"
        raise CoordinateError(
            f"latitude {lat[bad]:.6g} of coordinate {bad} is outside [-90, 90] (read as {order}){hint}"
        )
    return np.stack([wrap_longitude(pairs[:, 0]), lat], axis=1)


def lonlat_tensor(values: ArrayLike | None = None, *, lonlat: ArrayLike | None = None, latlon: ArrayLike | None = None) -> torch.Tensor:
    """Like :func:`validate_lonlat`, returning the library's canonical float32 tensor ``[N, 2]``."""
    return torch.from_numpy(validate_lonlat(values, lonlat=lonlat, latlon=latlon).astype(np.float32))
