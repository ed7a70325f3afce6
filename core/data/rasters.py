"""Global equirectangular rasters (images and label grids) and chip windows cut from them.

A raster covers the whole globe: row 0 starts at latitude +90, column 0 at longitude -180.
Windows are sampled in degree space, so they wrap across the antimeridian and reflect over the
poles (continuing past a pole means coming back down on the opposite meridian).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.coords import wrap_longitude


@dataclass(frozen=True)
class GlobalRaster:
    """A global grid ``[H, W]`` or ``[H, W, C]`` with row 0 at lat +90 and column 0 at lon -180."""

    array: np.ndarray

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def degrees_per_pixel(self) -> float:
        """Pixel size in degrees of longitude (equal to latitude for a 2:1 global grid)."""
        return 360.0 / self.width

    def pixel_indices(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the pixels containing each (lon, lat); lat is folded over the poles first."""
        lon, lat = fold_over_poles(lon, lat)
        cols = np.floor((lon + 180.0) / (360.0 / self.width)).astype(np.int64) % self.width
        rows = np.floor((90.0 - lat) / (180.0 / self.height)).astype(np.int64)
        return np.clip(rows, 0, self.height - 1), cols

    def sample(self, lonlat: np.ndarray) -> np.ndarray:
        """Values at the pixels containing each (lon, lat) row of ``lonlat`` ``[N, 2]``."""
        rows, cols = self.pixel_indices(lonlat[:, 0], lonlat[:, 1])
        return self.array[rows, cols]

    def windows(self, lonlat: np.ndarray, footprint_deg: float, out_px: int, supersample: int = 1) -> np.ndarray:
        """North-up square windows ``[N, out_px, out_px(, C)]`` centred on each location.

        Each output pixel averages ``supersample``² raster samples (a box filter for rasters finer
        than the output); with ``supersample=1`` values are the raw nearest pixels (use that for labels).
        """
        n_samples = out_px * supersample
        step = footprint_deg / n_samples
        offsets = (np.arange(n_samples) + 0.5) * step - footprint_deg / 2.0
        lon = lonlat[:, 0, None, None] + offsets[None, None, :]
        lat = lonlat[:, 1, None, None] - offsets[None, :, None]
        lon, lat = np.broadcast_arrays(lon, lat)
        rows, cols = self.pixel_indices(lon, lat)
        values = self.array[rows, cols]
        if supersample == 1:
            return values
        shape = (len(lonlat), out_px, supersample, out_px, supersample) + self.array.shape[2:]
        mean = values.reshape(shape).mean(axis=(2, 4), dtype=np.float32)
        return np.rint(mean).astype(self.array.dtype)


def fold_over_poles(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map latitudes beyond ±90 back onto the sphere (crossing a pole shifts longitude by 180°)."""
    beyond_north = lat > 90.0
    beyond_south = lat < -90.0
    crossed = beyond_north | beyond_south
    lat = np.where(beyond_north, 180.0 - lat, np.where(beyond_south, -180.0 - lat, lat))
    lon = wrap_longitude(np.where(crossed, lon + 180.0, lon))
    return lon, lat


def majority(windows: np.ndarray, n_classes: int) -> np.ndarray:
    """Most frequent class in each window ``[N, ...]`` of integer labels (ties → smallest class)."""
    flat = windows.reshape(len(windows), -1).astype(np.int64)
    offsets = np.arange(len(windows))[:, None] * n_classes
    counts = np.bincount((flat + offsets).ravel(), minlength=len(windows) * n_classes)
    return counts.reshape(len(windows), n_classes).argmax(axis=1)
