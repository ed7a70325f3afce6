"""Location-encoder throughput: points/s per encoding, vectorised-vs-loop speed-ups, global H3 grid time.

For every registered encoding (registry defaults) with the default fcnet on top (geoclip carries its
own network): forward points/s of the encoding alone and of the whole encoder, and forward+backward
points/s of the whole encoder, at batch 4 096 and 65 536. Then the speed-up of the vectorised
``grid``, ``theory``, ``sphereM+`` and ``spherical_harmonics`` (L = 20) over straightforward
per-scale (per-(l, m) for harmonics) Python loops, checked to give the same features. Last, the
time to embed every H3 resolution-3 cell centre (targets: < 0.5 s, < 2 s for harmonics with L = 40).
Forward timings run under ``torch.inference_mode``; each figure is the median of a few repeats after a
warm-up. Figures depend on the machine and its load.

    python -m benchmarks.location_encoders [--quick] [--threads N]

On a shared machine, ``--threads 1`` gives steadier figures: a parallel op waits for its slowest
thread, and a preempted thread stalls it for a whole time slice. The load average is printed.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.timing import median_seconds
from core.coords import sample_sphere
from core.hexgrid import cell_centers, world_cells
from core.location import ENCODINGS, LocationEncoder, build_location_encoder
from core.location.encodings.harmonics import SphericalHarmonicsEncoding
from core.location.encodings.space2vec import DIRECTIONS
from core.location.scales import geometric_scales

H3_RESOLUTION = 3



def forward(module: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor) -> Callable[[], object]:
    """A no-argument forward pass under inference mode."""

    def run() -> object:
        with torch.inference_mode():
            return module(points)

    return run


def forward_backward(encoder: LocationEncoder, points: torch.Tensor) -> Callable[[], object]:
    """A no-argument training step's forward and backward (gradients cleared each time)."""
    encoder.train()

    def run() -> object:
        encoder.zero_grad(set_to_none=True)
        encoder(points).square().mean().backward()

    return run


def encoder_for(name: str, **encoding_params: object) -> LocationEncoder:
    """Registry defaults with the default fcnet (geoclip: its own network)."""
    network = "identity" if name == "geoclip" else "fcnet"
    return build_location_encoder({"encoding": name, "encoding_params": encoding_params, "network": network})


# Straightforward loop baselines (what the vectorised modules replace); each returns the same layout.


def space2vec_loop(variant: str, lonlat: torch.Tensor, scales: list[float]) -> torch.Tensor:
    """Space2Vec grid/theory with one Python iteration per direction and scale."""
    columns = []
    for a_lon, a_lat in DIRECTIONS[variant]:
        projected = lonlat[:, 0] * a_lon + lonlat[:, 1] * a_lat
        for scale in scales:
            columns += [torch.sin(projected / scale), torch.cos(projected / scale)]
    return torch.stack(columns, dim=1)


def sphere_m_plus_loop(lonlat: torch.Tensor, scales: list[float]) -> torch.Tensor:
    """Sphere2Vec sphereM+ with one Python iteration per scale."""
    lon, lat = torch.deg2rad(lonlat).unbind(dim=1)
    terms: list[list[torch.Tensor]] = [[] for _ in range(8)]
    for scale in scales:
        lat_s, lon_s = lat / scale, lon / scale
        values = [
            torch.sin(lat_s), torch.cos(lat_s) * torch.cos(lon), torch.cos(lat) * torch.cos(lon_s),
            torch.cos(lat_s) * torch.sin(lon), torch.cos(lat) * torch.sin(lon_s),
            torch.cos(lat_s), torch.sin(lon_s), torch.cos(lon_s),
        ]
        for term, value in zip(terms, values):
            term.append(value)
    return torch.stack([column for term in terms for column in term], dim=1)


def harmonics_loop(lonlat: torch.Tensor, degree: int) -> torch.Tensor:
    """Real spherical harmonics with one Python iteration per (l, m), each running its own recurrence."""
    lon, lat = torch.deg2rad(lonlat).unbind(dim=1)
    x, y = torch.sin(lat), torch.cos(lat).clamp_min(0.0)
    columns = []
    for l in range(degree):
        for m in range(-l, l + 1):
            order = abs(m)
            seed = 1.0 / math.sqrt(4 * math.pi)
            for k in range(1, order + 1):
                seed *= math.sqrt((2 * k + 1) / (2 * k))
            previous, current = torch.zeros_like(x), seed * y**order
            for n in range(order + 1, l + 1):
                a = math.sqrt((4 * n * n - 1) / (n * n - order * order))
                b = math.sqrt(((n - 1) ** 2 - order * order) / (4 * (n - 1) ** 2 - 1))
                previous, current = current, a * (x * current - b * previous)
            trig = 1.0 if m == 0 else math.sqrt(2.0) * (torch.cos(m * lon) if m > 0 else torch.sin(order * lon))
            columns.append(current * trig)
    return torch.stack(columns, dim=1)


def loop_comparisons() -> list[tuple[str, torch.nn.Module, Callable[[torch.Tensor], torch.Tensor]]]:
    """(label, vectorised module, loop function) for the four compared encodings, registry defaults."""
    rows = []
    for name in ("grid", "theory"):
        module = encoder_for(name).encoding
        params = ENCODINGS[name].params
        scales = geometric_scales(params["num_scales"].default, params["r_min"].default, params["r_max"].default).tolist()
        rows.append((name, module, lambda p, n=name, s=scales: space2vec_loop(n, p, s)))
    params = ENCODINGS["sphereM+"].params
    scales = geometric_scales(params["num_scales"].default, params["r_min"].default, params["r_max"].default).tolist()
    rows.append(("sphereM+", encoder_for("sphereM+").encoding, lambda p: sphere_m_plus_loop(p, scales)))
    rows.append(("spherical_harmonics L=20", SphericalHarmonicsEncoding(20), lambda p: harmonics_loop(p, 20)))
    return rows


def main(argv: list[str] | None = None) -> None:
    """Print the three tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 1 024 only, one repeat, H3 resolution 1")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    batches = (1024,) if args.quick else (4096, 65536)
    repeats = 1 if args.quick else 3
    torch.manual_seed(0)
    points = {b: torch.tensor(sample_sphere(b, np.random.default_rng(b)), dtype=torch.float32) for b in batches}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads on {os.cpu_count()} CPUs (load average {load}); median of {repeats} after a warm-up; points/s")

    header = f"{'encoding':22s} {'dim':>5s}" + "".join(f" {'enc fwd ' + str(b):>14s} {'model fwd ' + str(b):>16s} {'fwd+bwd ' + str(b):>14s}" for b in batches)
    print("\n" + header)
    for name in ENCODINGS:
        encoder = encoder_for(name)
        cells = []
        for b in batches:
            pts = points[b]
            encoder.eval()
            enc = b / median_seconds(forward(encoder.features, pts), repeats, warm_up=True)
            model = enc if encoder.config.network == "identity" else b / median_seconds(forward(encoder, pts), repeats, warm_up=True)
            train = b / median_seconds(forward_backward(encoder, pts), repeats)
            cells.append(f" {enc:>14,.0f} {model:>16,.0f} {train:>14,.0f}")
        print(f"{name:22s} {encoder.encoding.out_dim:>5d}" + "".join(cells))

    print(f"\n{'vectorised vs loop':26s} {'batch':>6s} {'vectorised s':>13s} {'loop s':>9s} {'speed-up':>9s}")
    for label, module, loop in loop_comparisons():
        for b in batches:
            pts = points[b]
            with torch.inference_mode():
                torch.testing.assert_close(module(pts), loop(pts), atol=1e-3, rtol=1e-3)  # float32 at λ = 0.1°
            fast = median_seconds(forward(module, pts), repeats)
            slow = median_seconds(forward(loop, pts), repeats)
            print(f"{label:26s} {b:>6d} {fast:>13.4f} {slow:>9.4f} {slow / fast:>8.1f}x")

    resolution = 1 if args.quick else H3_RESOLUTION
    centres = torch.tensor(cell_centers(world_cells(resolution)), dtype=torch.float32)
    print(f"\nH3 resolution {resolution} world grid: {len(centres):,} cell centres; seconds (target < 0.5 s; < 2 s for harmonics L=40)")
    print(f"{'encoding':26s} {'encoding s':>11s} {'model s':>9s} {'encoding ok':>12s}")
    rows = [(name, encoder_for(name)) for name in ENCODINGS] + [("spherical_harmonics L=40", encoder_for("spherical_harmonics", degree=40))]
    for label, encoder in rows:
        encoder.eval()
        encoding_s = median_seconds(forward(encoder.features, centres), repeats)
        model_s = encoding_s if encoder.config.network == "identity" else median_seconds(forward(encoder, centres), repeats)
        target = 2.0 if label.endswith("L=40") else 0.5
        print(f"{label:26s} {encoding_s:>11.4f} {model_s:>9.4f} {'yes' if encoding_s < target else 'NO':>12s}")
    projection_s = median_seconds(forward(encoder_for("geoclip").encoding.fourier_features, centres), repeats)
    print(f"{'geoclip Equal Earth + RFF':26s} {projection_s:>11.4f} {'':>9s} {'yes' if projection_s < 0.5 else 'NO':>12s}")
    print("(geoclip's encoding carries its network: three 1024-wide MLPs; its last row times the positional part alone)")


if __name__ == "__main__":
    main()
