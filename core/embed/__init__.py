"""Embeddings for a user's own points, at any size: :func:`embed_points` reads a points file (CSV, GeoParquet,
GeoPackage, GeoJSON, zipped Shapefile, FlatGeobuf; any CRS) in chunks, checks every row, embeds the good ones
with a location encoder and writes GeoParquet, GeoPackage, CSV or .npy; :func:`embed_points_dask` does the
same over a partitioned GeoParquet dataset on a Dask cluster. :func:`read_points` reads a small file whole,
as the app does with uploaded places.

Modules: :mod:`~core.embed.readers` (formats, chunks), :mod:`~core.embed.chunks` (a chunk, geometry to
points, reprojection), :mod:`~core.embed.checks` (bad rows), :mod:`~core.embed.columns` (embedding columns),
:mod:`~core.embed.writers` (outputs, atomic), :mod:`~core.embed.pipeline` (reading ahead and writing behind the
forward pass in threads), :mod:`~core.embed.run` (the driver), :mod:`~core.embed.dask_run`
(the Dask path), :mod:`~core.embed.table` (whole small files), :mod:`~core.embed.cli` (``python -m core embed``).
"""

from __future__ import annotations

from core.lazy_exports import lazy_exports

DEFAULT_CHUNK_SIZE = 16_384
"""Rows read, embedded and written at a time: at 16 384 a 356-d run peaks near 0.6 GB and runs no slower than at 65 536
(which peaks near 0.95 GB), measured with the starter encoder."""
FORWARD_BATCH = 16_384
"""Points per forward pass (a default-size chunk in one): with the starter encoder on 2 CPU cores 20-40 % more points
per CPU second than batches of 8 192, and no more than a chunk's memory."""

_EXPORTS = {
    "BadRow": "core.embed.checks",
    "BadRowsError": "core.embed.checks",
    "EmbedInputError": "core.embed.chunks",
    "EmbedReport": "core.embed.report",
    "PointTable": "core.embed.table",
    "embed_points": "core.embed.run",
    "embed_points_dask": "core.embed.dask_run",
    "read_points": "core.embed.table",
    "with_embedding": "core.embed.columns",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
