"""Reading ahead and writing behind the forward pass: order kept, errors in either thread raised in the caller,
a failed run leaves no output; the GeoParquet layout (plain embedding column, the input's WKB passed through)."""

import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from core.embed import embed_points
from core.embed.pipeline import read_ahead, write_behind
from core.embed.writers import _GeoParquetWriter, partial_path

ENCODER = "encoding:theory"


def _threads() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def test_read_ahead_keeps_order_raises_the_sources_error_and_closes_the_source_when_left_early():
    assert list(read_ahead(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield from range(3)
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in read_ahead(failing()):
            seen.append(item)
    assert seen == [0, 1, 2]

    closed = threading.Event()

    def endless():
        try:
            yield from iter(int, 1)
        finally:
            closed.set()

    items = read_ahead(endless())
    assert next(items) == 0
    items.close()
    assert closed.is_set() and "embed-read-ahead" not in _threads()


def test_write_behind_keeps_order_and_a_failed_write_is_raised_and_stops_later_writes():
    written = []
    with write_behind(lambda *args: written.append(args), depth=2) as submit:
        for i in range(30):
            submit(i, -i)
    assert written == [(i, -i) for i in range(30)]

    def write(i):
        if i == 2:
            raise ValueError("cannot write 2")
        written.append(i)

    written.clear()
    with pytest.raises(ValueError, match="cannot write 2"):
        with write_behind(write) as submit:
            for i in range(100):
                submit(i)
    assert written == [0, 1] and "embed-write-behind" not in _threads()


def test_an_error_in_the_callers_block_stops_the_writer():
    with pytest.raises(KeyError):
        with write_behind(lambda i: None) as submit:
            submit(1)
            raise KeyError("forward failed")
    assert "embed-write-behind" not in _threads()


def _points(path, n=40, seed=0) -> None:
    rng = np.random.default_rng(seed)
    lonlat = np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)])
    pd.DataFrame({"id": np.arange(n), "lon": lonlat[:, 0], "lat": lonlat[:, 1]}).to_csv(path, index=False)


def test_an_error_in_the_writer_thread_surfaces_and_leaves_no_output(tmp_path, monkeypatch):
    source, out = tmp_path / "points.csv", tmp_path / "out.parquet"
    _points(source)
    real_write, calls = _GeoParquetWriter.write, []

    def write_then_fail(self, chunk, embeddings):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise OSError("No space left on device")
        real_write(self, chunk, embeddings)

    monkeypatch.setattr(_GeoParquetWriter, "write", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        embed_points(ENCODER, source, out, progress=False, chunk_size=5)
    assert len(calls) == 3 and not out.exists() and not partial_path(out).exists()


def test_an_error_reading_a_later_chunk_surfaces_and_leaves_no_output(tmp_path):
    from core.embed import DEFAULT_CHUNK_SIZE

    source, out = tmp_path / "points.csv", tmp_path / "out.npy"
    rows = DEFAULT_CHUNK_SIZE + 10  # the column types come from the first DEFAULT_CHUNK_SIZE rows: integers
    frame = pd.DataFrame({"n": np.arange(rows).astype(object), "lon": 1.0, "lat": 2.0})
    frame.loc[rows - 1, "n"] = "not a number"
    frame.to_csv(source, index=False)
    with pytest.raises(ValueError):
        embed_points(ENCODER, source, out, progress=False, chunk_size=4096)
    assert not out.exists() and not partial_path(out).exists() and "embed-read-ahead" not in _threads()


def test_geoparquet_output_stores_the_embedding_plain_and_passes_the_inputs_wkb_through(tmp_path):
    rng = np.random.default_rng(1)
    wkb = shapely.to_wkb(shapely.points(rng.uniform(-180, 180, 30), rng.uniform(-90, 90, 30)), byte_order=0)  # big-endian: kept as is
    geo = '{"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB", "geometry_types": []}}}'
    source, out = tmp_path / "points.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.table({"id": np.arange(30), "geometry": pa.array(wkb, pa.binary())}).replace_schema_metadata({"geo": geo}), source)
    embed_points(ENCODER, source, out, progress=False, chunk_size=7)
    assert pq.read_table(out).column("geometry").to_pylist() == list(wkb)
    group = pq.ParquetFile(out).metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    vector = columns["embedding.list.element"]
    assert vector.compression == "UNCOMPRESSED" and vector.statistics is None and "RLE_DICTIONARY" not in vector.encodings
    assert columns["id"].compression == "SNAPPY" and columns["id"].statistics is not None
