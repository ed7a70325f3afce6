"""Typed coordinates: (lon, lat) in degrees, validated, longitudes wrapped, latitudes never clipped.

Also great-circle distances and uniform sampling on the sphere (optionally restricted by a mask).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import torch

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG R1) used by :func:`haversine_km`."""


class CoordinateError(ValueError):
    """Coordinates that cannot be used: NaN, latitude out of [-90, 90], wrong shape, likely swapped order."""


def _is_tensor(value: object) -> bool:
    """Whether ``value`` is a torch tensor, without importing torch (1 s, which the app's first page does not need):
    a tensor can only exist once torch is loaded."""
    torch_module = sys.modules.get("torch")
    return torch_module is not None and isinstance(value, torch_module.Tensor)


def wrap_longitude(lon: np.ndarray | torch.Tensor | float):
    """Map longitudes to [-180, 180); values already in range are returned unchanged (idempotent)."""
    wrapped = (lon + 180.0) % 360.0 - 180.0
    wrapped = wrapped - 360.0 * (wrapped >= 180.0)  # float rounding can give exactly 180 for tiny negatives
    in_range = (lon >= -180.0) & (lon < 180.0)
    if _is_tensor(lon):
        return sys.modules["torch"].where(in_range, lon, wrapped)
    if isinstance(lon, np.ndarray):
        return np.where(in_range, lon, wrapped)
    return float(lon if in_range else wrapped)


def in_canonical_range(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> bool:
    """Whether coordinates with these column extremes are all finite, with lon in [-180, 180) and lat in
    [-90, 90], so need neither an error nor wrapping (a NaN extreme compares False)."""
    return -180.0 <= lon_min and lon_max < 180.0 and -90.0 <= lat_min and lat_max <= 90.0


def _as_pairs(values: ArrayLike) -> np.ndarray:
    if _is_tensor(values):
        values = values.detach().cpu()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CoordinateError(f"coordinates must be numbers in an [N, 2] array: {error}") from None
    if array.ndim == 1 and array.shape[0] == 2:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 2:
        hint = "; it looks transposed — pass values.T" if array.ndim == 2 and array.shape[0] == 2 else ""
        raise CoordinateError(f"expected coordinates of shape [N, 2], got {tuple(array.shape)}{hint}")
    return array


def _checked(pairs: np.ndarray, order: str, swap_advice: str) -> np.ndarray:
    """Check canonical (lon, lat) ``pairs`` read as ``order``; return a new array with longitudes wrapped.

    The column extremes (NaN propagates into them) decide whether anything needs attention.
    """
    if len(pairs) and in_canonical_range(*pairs.min(axis=0), *pairs.max(axis=0)):
        return pairs.copy()
    finite = np.isfinite(pairs).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        lon, lat = pairs[bad]
        raise CoordinateError(f"coordinate {bad} is not finite: lon={lon}, lat={lat} (read as {order})")
    lat = pairs[:, 1]
    out_of_range = np.abs(lat) > 90.0
    if out_of_range.any():
        bad = int(np.flatnonzero(out_of_range)[0])
        hint = ""
        if (np.abs(pairs[:, 0]) <= 90.0).all():
            hint = f"; the pair looks swapped (its longitude would be a valid latitude) — {swap_advice}"
        raise CoordinateError(
            f"latitude {lat[bad]:.6g} of coordinate {bad} is outside [-90, 90] (read as {order}){hint}"
        )
    return np.stack([wrap_longitude(pairs[:, 0]), lat], axis=1)


def validate_lonlat(
    values: ArrayLike | LonLat | None = None, *, lonlat: ArrayLike | LonLat | None = None, latlon: ArrayLike | None = None
) -> np.ndarray:
    """Validate coordinates given with their order stated and return float64 ``[N, 2]`` (lon, lat).

    Exactly one of ``lonlat=`` / ``latlon=`` (or a positional value, read as (lon, lat)) is accepted;
    a :class:`LonLat` states its own order. Raises :class:`CoordinateError` on NaN/inf, latitude
    outside [-90, 90] (with a hint when the pair looks swapped) or a wrong shape. Longitudes are
    wrapped to [-180, 180).
    """
    given = [v for v in (values, lonlat, latlon) if v is not None]
    if len(given) != 1:
        raise CoordinateError("pass exactly one of: a (lon, lat) array, lonlat=..., latlon=...")
    if isinstance(latlon, LonLat):
        raise CoordinateError("a LonLat already states its order: pass it positionally or as lonlat=")
    if isinstance(given[0], LonLat):
        return np.array([[given[0].lon, given[0].lat]])
    pairs = _as_pairs(given[0])
    if latlon is not None:
        return _checked(pairs[:, ::-1], "(lat, lon)", "did you mean lonlat=...?")
    return _checked(pairs, "(lon, lat)", "did you mean latlon=...?")


def lonlat_tensor(
    values: ArrayLike | LonLat | None = None, *, lonlat: ArrayLike | LonLat | None = None, latlon: ArrayLike | None = None
) -> torch.Tensor:
    """Like :func:`validate_lonlat`, returning the library's canonical float32 tensor ``[N, 2]``."""
    import torch

    return torch.from_numpy(validate_lonlat(values, lonlat=lonlat, latlon=latlon).astype(np.float32))


@dataclass(frozen=True)
class LonLat:
    """One point in degrees, validated on construction; the longitude is wrapped to [-180, 180)."""

    lon: float
    lat: float

    def __post_init__(self) -> None:
        lon, lat = _checked(_as_pairs([self.lon, self.lat]), "LonLat(lon, lat)", "use LonLat.from_latlon(lat, lon)")[0]
        object.__setattr__(self, "lon", float(lon))
        object.__setattr__(self, "lat", float(lat))

    @classmethod
    def from_latlon(cls, lat: float, lon: float) -> LonLat:
        """Build from (lat, lon) order, as web maps and GeoCLIP give it."""
        lon, lat = _checked(_as_pairs([lat, lon])[:, ::-1], "from_latlon(lat, lon)", "use LonLat(lon, lat)")[0]
        return cls(lon=lon, lat=lat)

    def as_tensor(self) -> torch.Tensor:
        """The point as the library's canonical float32 tensor ``[1, 2]`` (lon, lat)."""
        import torch

        return torch.tensor([[self.lon, self.lat]], dtype=torch.float32)


def haversine_km(a: ArrayLike | torch.Tensor, b: ArrayLike | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Great-circle distance in km between (lon, lat) degree rows of ``a`` and ``b`` (``[..., 2]``, broadcast).

    Returns a torch tensor when either input is one (on its device and float dtype), numpy otherwise.
    Only the shape is checked, so this is cheap inside training loops.
    """
    if _is_tensor(a) or _is_tensor(b):
        import torch

        like = a if _is_tensor(a) else b
        dtype = like.dtype if like.is_floating_point() else torch.float32
        a, b = (torch.as_tensor(x, dtype=dtype, device=like.device) for x in (a, b))
        xp = torch
    else:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        xp = np
    for name, x in (("a", a), ("b", b)):
        if x.ndim == 0 or x.shape[-1] != 2:
            raise CoordinateError(f"haversine_km: {name} must have shape [..., 2] (lon, lat), got {tuple(x.shape)}")
    lon1, lat1, lon2, lat2 = (xp.deg2rad(v) for v in (a[..., 0], a[..., 1], b[..., 0], b[..., 1]))
    h = xp.sin((lat2 - lat1) / 2) ** 2 + xp.cos(lat1) * xp.cos(lat2) * xp.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * xp.arcsin(xp.sqrt(xp.clip(h, 0.0, 1.0)))



def destination_lonlat(origin: ArrayLike, azimuth_deg: ArrayLike, distance_km: ArrayLike) -> np.ndarray:
    """The point reached from ``origin`` (lon, lat) degrees ``[..., 2]`` along the great circle leaving at
    ``azimuth_deg`` (clockwise from north) after ``distance_km``, float64 ``[..., 2]`` (lon, lat), broadcast.

    Paths over a pole come down the other side and longitudes are wrapped into [-180, 180), so points
    near the poles and the antimeridian are reached like any other.
    """
    origin = np.asarray(origin, dtype=np.float64)
    if origin.ndim == 0 or origin.shape[-1] != 2:
        raise CoordinateError(f"destination_lonlat: origin must have shape [..., 2] (lon, lat), got {origin.shape}")
    lon1, lat1 = np.deg2rad(origin[..., 0]), np.deg2rad(origin[..., 1])
    azimuth = np.deg2rad(np.asarray(azimuth_deg, dtype=np.float64))
    angle = np.asarray(distance_km, dtype=np.float64) / EARTH_RADIUS_KM
    sin_lat2 = np.sin(lat1) * np.cos(angle) + np.cos(lat1) * np.sin(angle) * np.cos(azimuth)
    lat2 = np.arcsin(np.clip(sin_lat2, -1.0, 1.0))
    lon2 = lon1 + np.arctan2(np.sin(azimuth) * np.sin(angle) * np.cos(lat1), np.cos(angle) - np.sin(lat1) * sin_lat2)
    return np.stack(np.broadcast_arrays(wrap_longitude(np.rad2deg(lon2)), np.rad2deg(lat2)), axis=-1)

def _check_count(n: int, rng: np.random.Generator) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")


def sample_sphere(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform on the sphere's area, float64 ``[n, 2]`` (lon, lat): lat = asin(u), u ~ U(-1, 1)."""
    _check_count(n, rng)
    lon = rng.uniform(-180.0, 180.0, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return np.stack([lon, lat], axis=1)


def sample_land(
    n: int,
    rng: np.random.Generator,
    is_land: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int = 65_536,
    min_acceptance: float = 1e-3,
) -> np.ndarray:
    """``n`` points uniform on the sphere restricted to ``is_land(lonlat [B, 2]) -> bool [B]``.

    Batched rejection sampling from :func:`sample_sphere` in batches of ``batch_size``: the result
    depends only on the generator's state. Raises ``ValueError`` once the running acceptance rate
    falls below ``min_acceptance`` (a mask that accepts almost nothing, or one reading (lat, lon)).
    """
    _check_count(n, rng)
    kept = [np.empty((0, 2))]
    accepted = drawn = 0
    while accepted < n:
        batch = sample_sphere(batch_size, rng)
        mask = np.asarray(is_land(batch))
        if mask.shape != (batch_size,):
            raise ValueError(f"is_land must return a mask of shape [{batch_size}] for lonlat [{batch_size}, 2], got {mask.shape}")
        mask = mask.astype(bool)
        kept.append(batch[mask])
        accepted += int(mask.sum())
        drawn += batch_size
        if accepted < n and accepted < min_acceptance * drawn:
            raise ValueError(
                f"is_land accepted {accepted} of {drawn} uniform points (rate {accepted / drawn:.2g} < "
                f"min_acceptance={min_acceptance:g}); check that it reads (lon, lat) degrees, or lower min_acceptance"
            )
    return np.concatenate(kept)[:n]



def unit_vectors(lonlat: ArrayLike) -> np.ndarray:
    """Points on the unit sphere, float64 ``[..., 3]`` (x, y, z), of (lon, lat) degree rows ``[..., 2]``.

    Chord distances between them order pairs like great-circle distances (k-d trees), and their
    normalised mean is the spherical mean of the points (see :func:`lonlat_of_vectors`).
    """
    points = np.asarray(lonlat, dtype=np.float64)
    lon, lat = np.deg2rad(points[..., 0]), np.deg2rad(points[..., 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def lonlat_of_vectors(vectors: ArrayLike) -> np.ndarray:
    """(lon, lat) degrees ``[..., 2]`` of the directions of 3-D vectors ``[..., 3]`` (any non-zero length)."""
    xyz = np.asarray(vectors, dtype=np.float64)
    lon = np.rad2deg(np.arctan2(xyz[..., 1], xyz[..., 0]))
    lat = np.rad2deg(np.arctan2(xyz[..., 2], np.hypot(xyz[..., 0], xyz[..., 1])))
    return np.stack([wrap_longitude(lon), lat], axis=-1)
