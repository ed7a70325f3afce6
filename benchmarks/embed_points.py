"""``python -m core embed`` at scale: generated points as GeoParquet in and out, the default run's encoder.

For each size (1 M and 10 M points by default), in a fresh subprocess: the whole command
(:func:`core.__main__.main` with ``embed``: encoder load, reading, checks, embedding, writing; the
interpreter's start and imports are timed apart) and its peak RSS (``resource.getrusage``), then in the same
process the encoder's bare forward on 262 144 in-memory points: the command's own forward work
(``embed_lonlat``: encode and L2-normalise) on chunks and forward batches of the command's sizes, with the
same torch threads. Both are given per wall second and per CPU second of the process: on a
shared machine the load changes between the two measurements, and CPU time is what it does not distort.
Targets: the command ≥ 70 % of the bare forward; peak RSS < 1.5 GB and flat from 1 M to 10 M.

Then, on the first size: ONNX Runtime vs torch for the same encoder (the encoder exported with
``torch.onnx.export`` here, as a module that skips the input checks the library runs before its forward: the
points are generated in range), and the Dask path on a 2-worker LocalCluster (processes) over the same points
cut into 8 files vs the single process.

    python -m benchmarks.embed_points [--sizes 1000000,10000000] [--run runs/starter-pretrain] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
import torch

from core.train.records import runs_root

FORWARD_POINTS = 262_144
FORWARD_BATCHES = (8_192, 65_536)
GENERATE_BATCH = 1_000_000
DASK_PARTS = 8


def generate(path: Path, size: int, seed: int = 0) -> None:
    """``size`` points uniform on the sphere with an ``id`` column, written as GeoParquet in row groups of 1 M."""
    rng = np.random.default_rng(seed)
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"]}}}
    schema = pa.schema([("id", pa.int64()), ("geometry", pa.binary())], metadata={b"geo": json.dumps(geo).encode()})
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, size, GENERATE_BATCH):
            n = min(GENERATE_BATCH, size - start)
            lon, lat = rng.uniform(-180.0, 180.0, n), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
            wkb = shapely.to_wkb(shapely.points(lon, lat))
            writer.write_table(pa.table({"id": np.arange(start, start + n), "geometry": pa.array(wkb, pa.binary())}, schema=schema))


def sample_points(n: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=generator) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0])


def bare_forward(encoder) -> tuple[float, float]:
    """Points per wall second and per CPU second of the command's own forward work on in-memory points:
    :func:`~core.location.loading.embed_lonlat` (encode and L2-normalise) on chunks and forward batches of the
    command's sizes, in the same process (same torch threads)."""
    from core.embed import DEFAULT_CHUNK_SIZE, FORWARD_BATCH
    from core.location.loading import embed_lonlat

    points = sample_points(FORWARD_POINTS).numpy().astype(np.float64)
    embed_lonlat(encoder, points[:1024])  # warm-up
    started, started_cpu = time.perf_counter(), time.process_time()
    for start in range(0, FORWARD_POINTS, DEFAULT_CHUNK_SIZE):
        embed_lonlat(encoder, points[start : start + DEFAULT_CHUNK_SIZE], batch_size=FORWARD_BATCH)
    return FORWARD_POINTS / (time.perf_counter() - started), FORWARD_POINTS / (time.process_time() - started_cpu)


def one_size(run: str, points: Path, out: Path) -> dict:
    """In this (fresh) process: the command's seconds and peak RSS, then the bare forward."""
    import psutil

    from core.__main__ import main
    from core.location.loading import load_encoder

    startup = time.time() - psutil.Process().create_time()  # interpreter start and imports, before the command runs
    started, started_cpu = time.perf_counter(), time.process_time()
    code = main(["embed", "--encoder", run, "--points", str(points), "--out", str(out)])
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = pq.ParquetFile(points).metadata.num_rows
    assert code == 0 and pq.ParquetFile(out).metadata.num_rows == rows
    forward, forward_cpu = bare_forward(load_encoder(run))
    return {
        "rows": rows, "seconds": seconds, "startup_s": startup, "command_pts_s": rows / seconds, "forward_pts_s": forward,
        "command_pts_cpu_s": rows / cpu_seconds, "forward_pts_cpu_s": forward_cpu, "peak_rss_mb": peak_mb, "load_average": os.getloadavg()[0],
    }


class Embedding(torch.nn.Module):
    """``encoder.embed`` without the input checks the library runs first (data-dependent: ONNX export cannot trace them)."""

    def __init__(self, encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        features = self.encoder.encoding(lonlat.to(self.encoder.config.dtype)).to(torch.float32)
        output = self.encoder.network(features)
        return torch.cat([features, output], dim=1) if self.encoder.config.embedding == "concat" else output


def onnx_vs_torch(run: str, folder: Path) -> dict:
    """Points/s of ONNX Runtime and of torch on the same encoder and points, and their largest difference."""
    import onnxruntime

    from core.location.loading import load_encoder

    encoder = load_encoder(run)
    points = sample_points(FORWARD_POINTS)
    program = torch.onnx.export(
        Embedding(encoder).eval(), (points[:64],), input_names=["lonlat"], output_names=["embedding"],
        dynamic_shapes=({0: torch.export.Dim.DYNAMIC},), dynamo=True, verbose=False,
    )
    program.save(str(folder / "encoder.onnx"))
    session = onnxruntime.InferenceSession(str(folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    array = points.numpy()
    with torch.no_grad():
        difference = float(np.abs(session.run(None, {"lonlat": array[:4096]})[0] - encoder.embed(points[:4096]).numpy()).max())
        torch_rate = best_batch_rate(lambda start, stop: encoder.embed(points[start:stop]))
    onnx_rate = best_batch_rate(lambda start, stop: session.run(None, {"lonlat": array[start:stop]}))
    return {"onnxruntime_pts_s": onnx_rate, "torch_pts_s": torch_rate, "max_abs_difference": difference}


def best_batch_rate(forward) -> float:
    """Points per second of ``forward(start, stop)`` over :data:`FORWARD_POINTS` points, the best batch size."""
    rates = []
    for batch in FORWARD_BATCHES:
        started = time.perf_counter()
        for start in range(0, FORWARD_POINTS, batch):
            forward(start, start + batch)
        rates.append(FORWARD_POINTS / (time.perf_counter() - started))
    return max(rates)


def dask_vs_single(run: str, points: Path, folder: Path) -> dict:
    """Seconds of the Dask path (2 local worker processes) over ``points`` cut into files, and of the single process."""
    from core.embed import embed_points, embed_points_dask

    parts = folder / "parts"
    parts.mkdir()
    table = pq.read_table(points)
    rows = table.num_rows
    step = -(-rows // DASK_PARTS)
    for part, start in enumerate(range(0, rows, step)):
        pq.write_table(table.slice(start, step), parts / f"part.{part}.parquet")
    single = embed_points(run, points, folder / "single.parquet", progress=False)
    dask = embed_points_dask(run, parts, folder / "dask", workers=2)
    return {"rows": rows, "single_s": single.seconds, "dask_2_workers_s": dask.seconds, "speedup": single.seconds / dask.seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--run", default=str(runs_root() / "starter-pretrain"))
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--one", nargs=2, metavar=("POINTS", "OUT"), help=argparse.SUPPRESS)  # the per-size subprocess
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_size(args.run, Path(args.one[0]), Path(args.one[1]))))
        return 0
    folder = Path(args.keep or tempfile.mkdtemp(prefix="geocsp-bench-embed-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        sizes = [int(size) for size in args.sizes.split(",")]
        results = []
        for size in sizes:
            points, out = folder / f"points-{size}.parquet", folder / f"out-{size}.parquet"
            generate(points, size)
            line = subprocess.run(
                [sys.executable, "-m", "benchmarks.embed_points", "--run", args.run, "--one", str(points), str(out)],
                check=True, stdout=subprocess.PIPE, text=True,
            ).stdout.strip().splitlines()[-1]
            result = json.loads(line) | {"out_gb": out.stat().st_size / 1e9}
            out.unlink()
            results.append(result)
            print(
                f"{size:>11,} points: command {result['command_pts_s']:,.0f} pts/s in {result['seconds']:.0f} s "
                f"(+{result['startup_s']:.0f} s interpreter start and imports), bare forward {result['forward_pts_s']:,.0f} pts/s "
                f"-> {100 * result['command_pts_s'] / result['forward_pts_s']:.0f} % (per CPU second: {result['command_pts_cpu_s']:,.0f} vs "
                f"{result['forward_pts_cpu_s']:,.0f} -> {100 * result['command_pts_cpu_s'] / result['forward_pts_cpu_s']:.0f} %); peak RSS {result['peak_rss_mb']:,.0f} MB; "
                f"output {result['out_gb']:.1f} GB; load average {result['load_average']:.1f} on {os.cpu_count()} CPUs",
                flush=True,
            )
        first = folder / f"points-{sizes[0]}.parquet"
        onnx = onnx_vs_torch(args.run, folder)
        print(
            f"ONNX Runtime {onnx['onnxruntime_pts_s']:,.0f} pts/s vs torch {onnx['torch_pts_s']:,.0f} pts/s "
            f"(x{onnx['onnxruntime_pts_s'] / onnx['torch_pts_s']:.2f}; max |difference| {onnx['max_abs_difference']:.1e})",
            flush=True,
        )
        dask = dask_vs_single(args.run, first, folder)
        print(f"Dask, 2 local workers: {dask['dask_2_workers_s']:.0f} s vs single process {dask['single_s']:.0f} s on {dask['rows']:,} points (x{dask['speedup']:.2f})")
        print(json.dumps({"sizes": results, "onnx": onnx, "dask": dask}))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
