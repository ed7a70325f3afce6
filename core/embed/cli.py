"""``python -m core embed --encoder SOURCE --points FILE --out FILE``: a location encoder's embeddings of every
point of a file (see :func:`core.embed.embed_points`), or with ``--dask [ADDRESS]`` of a partitioned GeoParquet
dataset on a Dask cluster (see :func:`core.embed.embed_points_dask`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.embed import DEFAULT_CHUNK_SIZE

LOCAL = "local"


def add_embed_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``embed`` command and its arguments on ``sub``."""
    embed = sub.add_parser(
        "embed", help="embed every point of a CSV, GeoParquet, GeoPackage, GeoJSON, zipped Shapefile or FlatGeobuf file",
        description="Points in any CRS are reprojected to EPSG:4326; lines and polygons are embedded at a representative "
        "point (column embedded_at). Rows with missing or out-of-range coordinates are listed, and skipped or fail the run.",
    )
    embed.add_argument("--encoder", required=True, help="a model folder, a run folder (or run:DIR), geoclip, or encoding:NAME[:k=v,...]")
    embed.add_argument("--points", type=Path, required=True, help="the points file (with --dask: a GeoParquet file or dataset folder)")
    embed.add_argument("--out", type=Path, required=True, help="output: .parquet, .gpkg, .csv or .npy (+ .index.csv); with --dask a new folder")
    embed.add_argument("--vector", choices=("list", "columns"), default="list", help="GeoParquet: one list column 'embedding' or columns emb_000…")
    embed.add_argument("--on-bad-rows", choices=("skip", "fail"), default="skip", help="rows with NaN or out-of-range coordinates")
    embed.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="rows read, embedded and written at a time (memory grows with it)")
    embed.add_argument(
        "--dask", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
        help="run on Dask: a LocalCluster started here, or the scheduler at ADDRESS (e.g. tcp://host:8786)",
    )
    embed.add_argument("--workers", type=int, default=2, help="--dask without an address: local worker processes")


def run_embed(args: argparse.Namespace) -> int:
    """Run the ``embed`` command; 2 with the reason on stderr when the encoder cannot be loaded."""
    from core.location.loading import EncoderLoadError

    try:
        if args.dask is None:
            from core.embed.run import embed_points

            report = embed_points(
                args.encoder, args.points, args.out, vector=args.vector, on_bad_rows=args.on_bad_rows, chunk_size=args.chunk_size
            )
        else:
            from core.embed.dask_run import embed_points_dask

            report = embed_points_dask(
                args.encoder, args.points, args.out, vector=args.vector, on_bad_rows=args.on_bad_rows,
                scheduler=None if args.dask == LOCAL else args.dask, workers=args.workers,
            )
    except EncoderLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0
