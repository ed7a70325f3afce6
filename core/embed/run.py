"""The single-process embedding run: read a points file in chunks, check each chunk's rows, embed the good
ones with a location encoder, write them; memory stays bounded by the chunk size whatever the file's size.
Reading (one chunk ahead) and writing (one chunk behind) run in threads beside the forward pass
(:mod:`core.embed.pipeline`)."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from core.embed.checks import BadRowsError
from core.embed.chunks import EmbedInputError
from core.embed.columns import VECTOR_LAYOUTS, VectorLayout
from core.embed import DEFAULT_CHUNK_SIZE, FORWARD_BATCH
from core.embed.pipeline import read_ahead, write_behind
from core.embed.readers import open_points
from core.embed.report import EmbedReport
from core.embed.writers import open_writer
from core.location.loading import embed_lonlat, load_encoder

BadRowPolicy = Literal["skip", "fail"]
BAD_ROW_POLICIES: tuple[BadRowPolicy, ...] = ("skip", "fail")


def check_options(vector: str, on_bad_rows: str, chunk_size: int) -> None:
    """:class:`EmbedInputError` naming an option out of its choices."""
    if vector not in VECTOR_LAYOUTS:
        raise EmbedInputError(f"vector must be one of {', '.join(VECTOR_LAYOUTS)}, not {vector!r}")
    if on_bad_rows not in BAD_ROW_POLICIES:
        raise EmbedInputError(f"on_bad_rows must be one of {', '.join(BAD_ROW_POLICIES)}, not {on_bad_rows!r}")
    if chunk_size < 1:
        raise EmbedInputError(f"chunk_size must be at least 1, not {chunk_size}")


def embed_points(
    encoder_source: str | Path, points_path: str | Path, out_path: str | Path, *, vector: VectorLayout = "list",
    on_bad_rows: BadRowPolicy = "skip", chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = True,
) -> EmbedReport:
    """Embed every point of ``points_path`` with the encoder ``encoder_source`` names (see
    :func:`core.location.loading.load_encoder`) and write them, with the input's own columns, to ``out_path``
    (.parquet, .gpkg, .csv or .npy; see :mod:`core.embed.writers`). Embeddings are L2-normalised, as the app's
    (:func:`core.location.loading.embed_lonlat`).

    Rows with missing, NaN or out-of-range coordinates are listed in the report and left out
    (``on_bad_rows="skip"``) or fail the run (``"fail"``: once one is found the rest of the file is only
    checked, then :class:`~core.embed.checks.BadRowsError` lists them; nothing is written). ``vector``: the embedding as one list column (GeoParquet) or numbered ``emb_000…`` columns.
    Problems with the input or options raise :class:`EmbedInputError`, with the encoder
    :class:`~core.location.loading.EncoderLoadError`; a failed run leaves no output file.
    """
    started = time.perf_counter()
    check_options(vector, on_bad_rows, chunk_size)
    reader = open_points(points_path)
    writer = open_writer(out_path, vector)
    encoder = load_encoder(encoder_source)
    report = EmbedReport(str(encoder_source), str(points_path), str(out_path), notes=list(reader.notes))
    if writer.vector != vector:
        report.notes.append(f"{Path(out_path).suffix} has no list type: the embedding is written as numbered columns (emb_000…)")
    try:
        with (
            tqdm(total=reader.total, unit="pt", unit_scale=True, desc="embed", disable=not progress) as bar,
            closing(read_ahead(reader.chunks(chunk_size))) as chunks,
            write_behind(writer.write) as write,
        ):
            for chunk in chunks:
                kept = report.keep_good_rows(chunk)
                failing = on_bad_rows == "fail" and report.bad_row_count > 0
                if len(kept) and not failing:
                    embeddings = embed_lonlat(encoder, kept.lonlat, batch_size=FORWARD_BATCH)
                    write(kept, embeddings)
                    report.embedded += len(kept)
                    report.dim = embeddings.shape[1]
                bar.update(len(chunk))
        if on_bad_rows == "fail" and report.bad_row_count:
            raise BadRowsError(report.bad_rows, report.bad_row_count)
        if not report.embedded:
            raise EmbedInputError(f"{points_path}: no row could be embedded ({report.rows_read:,} read, {report.bad_row_count:,} bad)")
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    report.seconds = time.perf_counter() - started
    return report
