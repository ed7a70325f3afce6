"""The Dask path: the same embedding as :func:`core.embed.embed_points` over a (partitioned) GeoParquet dataset
read with dask-geopandas, on a local cluster started in-process or an existing one given by its address.

Each partition is checked and embedded by the same functions as a chunk of the single-process run and
written by the same GeoParquet writer as ``part.NNNNN.parquet`` of the output folder, so the dataset read back
in part order equals the single-process output. The folder is built under a hidden partial name and renamed
into place when every partition is done. Bad rows are numbered across the whole dataset (partitions in
order); under ``on_bad_rows="fail"`` a first pass over the geometry alone finds them before anything is written.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa

from core.embed.checks import BadRow, BadRowsError, check_rows
from core.embed.chunks import EmbedInputError, PointChunk, chunk_from_geometry, to_wgs84
from core.embed.columns import VectorLayout
from core.embed.report import EmbedReport
from core.embed.run import BadRowPolicy, check_options
from core.embed.writers import open_writer, partial_path
from core.location.encoder import LocationEncoder
from core.location.loading import embed_lonlat, load_encoder

#: One row per partition (``bad_row`` -1) and one per bad row (its number within the partition).
_REPORT_META = pd.DataFrame(
    {
        "partition": pd.Series(dtype="int64"), "rows": pd.Series(dtype="int64"), "embedded": pd.Series(dtype="int64"),
        "representative": pd.Series(dtype="int64"), "dim": pd.Series(dtype="int64"), "bad": pd.Series(dtype="int64"), "bad_row": pd.Series(dtype="int64"),
        "reason": pd.Series(dtype="str"),
    }
)


@lru_cache(maxsize=4)
def _worker_encoder(source: str) -> LocationEncoder:
    """The encoder, loaded once per worker process."""
    return load_encoder(source)


def _partition_chunk(frame: gpd.GeoDataFrame) -> PointChunk:
    attributes = pa.Table.from_pandas(frame.drop(columns=frame.geometry.name), preserve_index=False)
    return chunk_from_geometry(attributes, frame.geometry.to_numpy(), 0, to_wgs84(frame.crs))


def _report_rows(number: int, report: EmbedReport) -> pd.DataFrame:
    summary = {
        "rows": report.rows_read, "embedded": report.embedded, "representative": report.representative_points,
        "dim": report.dim, "bad": report.bad_row_count,
    }
    rows = [{"partition": number, **summary, "bad_row": -1, "reason": ""}]
    rows += [{"partition": number, **dict.fromkeys(summary, 0), "bad_row": b.row, "reason": b.reason} for b in report.bad_rows]
    return pd.DataFrame(rows).astype(_REPORT_META.dtypes.to_dict())


def _check_partition(frame: gpd.GeoDataFrame, partition_info: dict | None = None) -> pd.DataFrame:
    """The report rows of a partition's checks alone (nothing embedded)."""
    chunk = _partition_chunk(frame)
    report = EmbedReport("", "", "", rows_read=len(chunk))
    report.add_bad(check_rows(chunk.lonlat, chunk.rows)[1])
    return _report_rows(partition_info["number"], report)


def _embed_partition(
    frame: gpd.GeoDataFrame, source: str, folder: str, vector: VectorLayout, partition_info: dict | None = None
) -> pd.DataFrame:
    """Check, embed and write one partition as ``folder/part.NNNNN.parquet``; its report rows."""
    number = partition_info["number"]
    report = EmbedReport(source, "", folder)
    kept = report.keep_good_rows(_partition_chunk(frame))
    if len(kept):
        embeddings = embed_lonlat(_worker_encoder(source), kept.lonlat)
        writer = open_writer(Path(folder) / f"part.{number:05d}.parquet", vector)
        try:
            writer.write(kept, embeddings)
            writer.commit()
        except BaseException:
            writer.discard()
            raise
        report.embedded, report.dim = len(kept), embeddings.shape[1]
    return _report_rows(number, report)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2, processes: bool = True) -> Iterator:
    """A ``distributed.Client`` on the cluster at ``scheduler``, or on a ``LocalCluster`` of ``workers``
    single-threaded workers (processes, or threads of this process) started here and closed afterwards."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _global_bad_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, list[BadRow]]:
    """(the per-partition summary rows in order, every bad row numbered across the dataset)."""
    summary = table[table["bad_row"] < 0].sort_values("partition").set_index("partition")
    offsets = summary["rows"].cumsum() - summary["rows"]
    bad = table[table["bad_row"] >= 0].sort_values(["partition", "bad_row"])
    rows = bad["bad_row"].to_numpy() + offsets.loc[bad["partition"]].to_numpy()
    return summary, [BadRow(int(row), reason) for row, reason in zip(rows.tolist(), bad["reason"])]


def embed_points_dask(
    encoder_source: str | Path, points_path: str | Path, out_dir: str | Path, *, vector: VectorLayout = "list",
    on_bad_rows: BadRowPolicy = "skip", scheduler: str | None = None, workers: int = 2, processes: bool = True,
) -> EmbedReport:
    """:func:`core.embed.embed_points` over the GeoParquet file or partitioned dataset ``points_path`` on a Dask
    cluster (``scheduler``: an address, or None for a ``LocalCluster`` of ``workers``), written to the folder
    ``out_dir`` as a partitioned GeoParquet dataset (``part.00000.parquet``…; it must not exist yet)."""
    import dask_geopandas

    started = time.perf_counter()
    check_options(vector, on_bad_rows, 1)
    points, out = Path(points_path), Path(out_dir)
    if not points.exists():
        raise EmbedInputError(f"{points}: no such file or folder")
    if out.exists():
        raise EmbedInputError(f"{out} already exists: --dask writes a new folder (a partitioned GeoParquet dataset)")
    if not out.parent.is_dir():
        raise EmbedInputError(f"{out}: the folder {out.parent} does not exist")
    load_encoder(encoder_source)  # a bad encoder fails here, before a cluster starts
    try:
        frame = dask_geopandas.read_parquet(points)
    except Exception as error:  # noqa: BLE001 — Arrow/dask failures on a user's dataset: a message, not a traceback
        raise EmbedInputError(f"{points} is not a readable GeoParquet dataset ({str(error).strip().splitlines()[0]})") from error
    report = EmbedReport(str(encoder_source), str(points), str(out))
    folder = partial_path(out)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        with dask_client(scheduler, workers, processes):
            if on_bad_rows == "fail":
                checked = frame[[frame.geometry.name]].map_partitions(_check_partition, meta=_REPORT_META).compute()
                checked_summary, bad = _global_bad_rows(checked)
                if bad:
                    raise BadRowsError(bad, int(checked_summary["bad"].sum()))
            table = frame.map_partitions(_embed_partition, str(encoder_source), str(folder), vector, meta=_REPORT_META).compute()
        summary, bad = _global_bad_rows(table)
        report.rows_read, report.embedded = int(summary["rows"].sum()), int(summary["embedded"].sum())
        report.representative_points, report.dim = int(summary["representative"].sum()), int(summary["dim"].max())
        report.add_bad(bad)
        report.bad_row_count = int(summary["bad"].sum())
        if not report.embedded:
            raise EmbedInputError(f"{points}: no row could be embedded ({report.rows_read:,} read, {report.bad_row_count:,} bad)")
        folder.rename(out)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - started
    report.notes.append(f"{len(summary)} partition(s) written to {out}")
    return report
