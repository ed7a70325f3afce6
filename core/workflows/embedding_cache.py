"""Grid embeddings of a region, with GeoCLIP's world grids cached on disk once per machine.

GeoCLIP's released location encoder (three MLP branches 1024 wide) embeds the 41 162 cells of the world at
H3 resolution 3 in 11.5 s on a quiet 2-core machine (21 s on a busy one), and its weights never change.
Like the hex geometry (:mod:`geovis.hex_layer`), its embeddings of the whole world at a resolution are
computed the first time and kept under the cache root; a region is a slice of them (its cells are a sorted
subset of the world's). A region asked for before the world has been embedded is embedded alone (fast for
a small region) and not stored, so the cache holds one file per resolution, whatever the regions viewed.

The file name holds the key: the SHA-256 of the weights file, of the code that turns weights and cells into
embeddings, and the h3 version (cell ids and centres). Files are ``.npy`` (float32 ``[cells, dims]``) read
with ``allow_pickle=False``; one that cannot be read, has the wrong shape or type, or whose rows are not unit
vectors is computed again and replaced. Untrained encoders (seeded, fast) and trained runs are not cached.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path

import h3
import numpy as np

from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.data.paths import cache_root
from core.files import atomic_path, file_sha256
from core.location import LocationEncoder, PretrainedUnavailable
from core.location.pretrained import geoclip_weights_path
from core.gis.region import PolygonRegion
from core.regions import BBox

#: Modules whose code decides the cached numbers: a change to any of them makes a new key.
CODE_MODULES = (
    "core.location.pretrained", "core.location.encodings.geoclip", "core.location.encoder", "core.location.networks",
    "core.workflows.embedding_map", "core.hexgrid",
)


@functools.cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, computed once per process for each (path, size, modification time)."""
    stat = path.stat()
    return _file_digest(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _code_digest() -> str:
    digest = hashlib.sha256(f"h3 {h3.__version__}".encode())
    for name in CODE_MODULES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    return digest.hexdigest()


def cache_key(weights: Path) -> str:
    """16 hex digits naming the weights' content, the code of :data:`CODE_MODULES` and the h3 version."""
    return hashlib.sha256(f"{file_digest(weights)}|{_code_digest()}".encode()).hexdigest()[:16]


def cache_path(choice: encoders.EncoderChoice, resolution: int) -> Path | None:
    """Where the world's embeddings by ``choice`` at ``resolution`` are cached; None for an encoder that is not
    cached (and for GeoCLIP when its weights are not installed: loading it then says why)."""
    if choice.source != "pretrained" or choice.name != "geoclip":
        return None
    try:
        weights = geoclip_weights_path()
    except PretrainedUnavailable:
        return None
    return cache_root() / "embedding_map" / f"geoclip-res{resolution}-{cache_key(weights)}.npy"


def read_cached(path: Path, rows: int) -> np.ndarray | None:
    """The cached embeddings at ``path`` when they are usable (``rows`` unit rows of float32), else None."""
    try:
        embeddings = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    usable = (
        isinstance(embeddings, np.ndarray) and embeddings.dtype == np.float32 and embeddings.ndim == 2
        and len(embeddings) == rows and np.isfinite(embeddings).all()
        and np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-3)
    )
    return embeddings if usable else None


def write_cached(path: Path, embeddings: np.ndarray) -> None:
    """Store ``embeddings`` at ``path`` atomically and remove the files of older keys; an unwritable cache only costs time."""
    with contextlib.suppress(OSError):
        with atomic_path(path) as temporary, temporary.open("wb") as file:
            np.save(file, embeddings, allow_pickle=False)
        prefix = path.name[: path.name.rindex("-") + 1]
        for stale in path.parent.glob(f"{prefix}*.npy"):
            if stale != path:
                stale.unlink(missing_ok=True)


@functools.cache
def _world_cells(resolution: int) -> np.ndarray:
    return np.array(em.region_cells(resolution))


def grid_embeddings(
    choice: encoders.EncoderChoice, resolution: int, bbox: BBox | PolygonRegion | None, load_encoder: Callable[[], LocationEncoder]
) -> tuple[list[str], np.ndarray]:
    """The cells of the region (:func:`core.workflows.embedding_map.region_cells`) and their L2-normalised embeddings
    by ``choice``, read from the world's disk cache when ``choice`` has one (``load_encoder`` is then not
    called), else computed with the encoder ``load_encoder`` returns (and, for the whole world, cached)."""
    cells = em.region_cells(resolution, bbox)
    path = cache_path(choice, resolution) if cells else None
    if path is None:
        return cells, em.embed_cells(load_encoder(), cells)
    world = read_cached(path, len(_world_cells(resolution)))
    if world is not None:
        return cells, world if bbox is None else world[np.searchsorted(_world_cells(resolution), cells)]
    embeddings = em.embed_cells(load_encoder(), cells)
    if bbox is None:
        write_cached(path, embeddings)
    return cells, embeddings
