"""Writing embedded chunks, by the output's suffix, atomically: every file is written under a hidden
``.NAME.partial`` name beside its target and renamed into place only when the run completes, so a failed
run leaves no half file.

- ``.parquet``/``.geoparquet``: GeoParquet 1.1 (WKB geometry, EPSG:4326), the embedding one fixed-size list
  column or numbered columns, stored plain: no dictionary, statistics or compression (on normalised float32
  vectors snappy and lz4 save under 1 % of the size, zstd 8 %, each for more CPU time than the plain write);
  the other columns snappy-compressed, and an EPSG:4326 input's WKB geometry passed through as it was read;
- ``.gpkg``: a GeoPackage layer; ``.csv``: the table with the embedded point as ``point_lon``/``point_lat``
  (a CSV input keeps its own coordinate columns instead); neither has a list type, so both get numbered columns;
- ``.npy``: the float32 ``[N, D]`` matrix, with ``NAME.index.csv`` beside it giving, per matrix row, the input
  row it embeds and the point embedded.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyogrio
import shapely

from core.embed.chunks import WGS84, EmbedInputError, PointChunk
from core.embed.columns import VectorLayout, embedded_table, embedding_names

#: Output suffixes -> the format's name.
OUTPUT_FORMATS = {".parquet": "GeoParquet", ".geoparquet": "GeoParquet", ".gpkg": "GeoPackage", ".csv": "CSV", ".npy": "NumPy array + index"}
GEOMETRY = "geometry"


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until the run completes (hidden, same folder, same suffix)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


class ChunkWriter(ABC):
    """Writes embedded chunks to ``path`` (under its :func:`partial_path` until :meth:`commit`)."""

    #: Whether the format stores a list column; otherwise the embedding is written as numbered columns.
    lists = False

    def __init__(self, path: Path, vector: VectorLayout) -> None:
        self.path = path
        self.vector: VectorLayout = vector if self.lists else "columns"
        self.targets = {partial_path(path): path}

    @abstractmethod
    def write(self, chunk: PointChunk, embeddings: np.ndarray) -> None:
        """Append ``chunk``'s rows with their ``embeddings`` ``[n, D]``."""

    def close(self) -> None:
        """Close open files (before a commit or a discard)."""

    def commit(self) -> None:
        """Move every written file into place."""
        self.close()
        for partial, target in self.targets.items():
            os.replace(partial, target)

    def discard(self) -> None:
        """Remove every partial file (after a failure)."""
        self.close()
        for partial in self.targets:
            partial.unlink(missing_ok=True)


def _wkb(chunk: PointChunk) -> pa.Array:
    """The chunk's geometry (points at its coordinates when it has none) as WKB: the input's own when it was
    already in EPSG:4326."""
    if chunk.wkb is not None:
        return chunk.wkb.cast(pa.binary())
    geometry = chunk.geometry if chunk.geometry is not None else shapely.points(chunk.lonlat)
    return pa.array(shapely.to_wkb(geometry), pa.binary())


class _GeoParquetWriter(ChunkWriter):
    lists = True

    def __init__(self, path: Path, vector: VectorLayout) -> None:
        super().__init__(path, vector)
        self.writer: pq.ParquetWriter | None = None

    def write(self, chunk: PointChunk, embeddings: np.ndarray) -> None:
        table = embedded_table(chunk, embeddings, self.vector, {GEOMETRY: _wkb(chunk)})
        if self.writer is None:
            geo = {"version": "1.1.0", "primary_column": GEOMETRY, "columns": {GEOMETRY: {"encoding": "WKB", "geometry_types": [], "crs": WGS84.to_json_dict()}}}
            schema = table.schema.with_metadata({b"geo": json.dumps(geo).encode()})
            vectors = set(embedding_names(embeddings.shape[1], self.vector))
            others = [name for name in schema.names if name not in vectors]
            self.writer = pq.ParquetWriter(
                partial_path(self.path), schema, use_dictionary=others, write_statistics=others,
                compression={name: "none" if name in vectors else "snappy" for name in schema.names},
            )
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class _GeoPackageWriter(ChunkWriter):
    def __init__(self, path: Path, vector: VectorLayout) -> None:
        super().__init__(path, vector)
        self.schema: pa.Schema | None = None

    def write(self, chunk: PointChunk, embeddings: np.ndarray) -> None:
        table = embedded_table(chunk, embeddings, self.vector, {GEOMETRY: _wkb(chunk)})
        table = table if self.schema is None else table.cast(self.schema)
        pyogrio.write_arrow(
            table, partial_path(self.path), layer=self.path.stem, driver="GPKG", geometry_name=GEOMETRY,
            geometry_type="Unknown", crs="EPSG:4326", append=self.schema is not None,
        )
        self.schema = table.schema


class _CsvWriter(ChunkWriter):
    def __init__(self, path: Path, vector: VectorLayout) -> None:
        super().__init__(path, vector)
        self.writer: pacsv.CSVWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, chunk: PointChunk, embeddings: np.ndarray) -> None:
        point = {} if chunk.geometry is None else {"point_lon": pa.array(chunk.lonlat[:, 0]), "point_lat": pa.array(chunk.lonlat[:, 1])}
        table = embedded_table(chunk, embeddings, self.vector, point)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pacsv.CSVWriter(partial_path(self.path), self.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


#: Bytes of the .npy header written before the count of rows is known (magic, version, length, padded dict).
_NPY_HEADER = 128


class _NpyWriter(ChunkWriter):
    lists = True  # a matrix: the vector layout does not apply

    def __init__(self, path: Path, vector: VectorLayout) -> None:
        super().__init__(path, vector)
        self.index_path = path.with_name(f"{path.stem}.index.csv")
        self.targets[partial_path(self.index_path)] = self.index_path
        self.matrix = None
        self.index: pacsv.CSVWriter | None = None
        self.rows, self.dim = 0, 0

    def write(self, chunk: PointChunk, embeddings: np.ndarray) -> None:
        if self.matrix is None:
            self.matrix = partial_path(self.path).open("wb")
            self.matrix.write(b"\0" * _NPY_HEADER)
            self.dim = embeddings.shape[1]
        self.matrix.write(np.ascontiguousarray(embeddings, dtype="<f4").tobytes())
        self.rows += len(embeddings)
        index = pa.table({"row": chunk.rows, "lon": chunk.lonlat[:, 0], "lat": chunk.lonlat[:, 1]})
        if self.index is None:
            self.index = pacsv.CSVWriter(partial_path(self.index_path), index.schema)
        self.index.write_table(index)

    def close(self) -> None:
        if self.matrix is not None:
            self.matrix.seek(0)
            self.matrix.write(_npy_header(self.rows, self.dim))
            self.matrix.close()
            self.matrix = None
        if self.index is not None:
            self.index.close()
            self.index = None


def _npy_header(rows: int, dim: int) -> bytes:
    """A version 1.0 .npy header for a float32 ``[rows, dim]`` C-order array, padded to :data:`_NPY_HEADER` bytes."""
    text = repr({"descr": "<f4", "fortran_order": False, "shape": (rows, dim)})
    text = text.ljust(_NPY_HEADER - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


_WRITERS: dict[str, type[ChunkWriter]] = {
    ".parquet": _GeoParquetWriter, ".geoparquet": _GeoParquetWriter, ".gpkg": _GeoPackageWriter, ".csv": _CsvWriter, ".npy": _NpyWriter,
}


def open_writer(path: str | Path, vector: VectorLayout) -> ChunkWriter:
    """The writer for ``path``'s suffix; :class:`EmbedInputError` for an unknown suffix or a missing folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _WRITERS:
        raise EmbedInputError(f"{path}: write one of {', '.join(OUTPUT_FORMATS)} ({', '.join(sorted(set(OUTPUT_FORMATS.values())))})")
    if not path.parent.is_dir():
        raise EmbedInputError(f"{path}: the folder {path.parent} does not exist")
    return _WRITERS[suffix](path, vector)
