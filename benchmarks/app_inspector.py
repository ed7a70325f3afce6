"""Server-side cost of the Encoder inspector page, per encoder: what a page load, a click and a new profile cost.

Stages (medians over ``--repeat``): the world grid's embeddings at the chosen H3 resolution (GeoCLIP: computed
the first time on a machine, in an empty cache folder, then read from its disk cache), its principal components,
a click (x₀'s embedding, the globe kernel, the zoomed kernel, the resolution at x₀ and the figures), and the
resolution profile along one meridian. Baseline, in the same run: the globe kernel computed directly at every
pixel of the raster with the encoder, as a page without the per-encoder world grid would on each click.

    python -m benchmarks.app_inspector [--resolution 2] [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from unittest import mock

import numpy as np
import torch

from benchmarks.timing import median_seconds
from core.location import loading as encoders
from core.workflows import encoder_inspector as ei
from core.location import geoclip_status
from geovis import inspector_charts as charts

ENCODERS = [
    ei.InspectedEncoder("bare", "spherical_harmonics", (("degree", 10),)),
    ei.InspectedEncoder("bare", "theory"),
]
POINT = (2.35, 48.85)



def click(encoder, world: np.ndarray, raster: ei.WorldRaster) -> None:
    """What the page computes on a click, for one encoder."""
    center = encoders.embed_lonlat(encoder, np.asarray([POINT]))[0]
    charts.globe_figure(raster, ei.kernel(world, center), "kernel", POINT)
    grid, local = ei.local_kernel(encoder, POINT, 1000.0)
    charts.local_figure(grid, local, "zoom")
    ei.point_resolution(encoder, POINT)


def direct_globe_kernel(encoder, raster: ei.WorldRaster) -> None:
    """Baseline: the globe kernel at every raster pixel, computed with the encoder."""
    pixels = np.stack(np.meshgrid(raster.lons, raster.lats), axis=-1).reshape(-1, 2)
    ei.similarity_kernel(encoder, POINT, pixels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=2, choices=[2, 3])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    choices = ENCODERS + ([ei.InspectedEncoder("pretrained", "geoclip")] if geoclip_status()[0] else [])
    raster = ei.world_raster(args.resolution, 2.0 if args.resolution == 2 else 1.0)
    print(f"load average before: {os.getloadavg()}, torch threads {args.threads}, H3 resolution {args.resolution}, "
          f"raster {raster.cell_index.shape}")
    for choice in choices:
        encoder = ei.load_inspected(choice)
        if choice.source == "pretrained":
            with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {"GEOCSP_CACHE": empty}):
                first = median_seconds(lambda: ei.world_embeddings(choice, args.resolution, lambda: encoder), 1)
                cached = median_seconds(lambda: ei.world_embeddings(choice, args.resolution, lambda: encoder), args.repeat)
                world = ei.world_embeddings(choice, args.resolution, lambda: encoder)
            grid = f"world grid {first:.2f} s first time, {cached:.3f} s from the disk cache"
        else:
            world = ei.world_embeddings(choice, args.resolution, lambda: encoder)
            grid = f"world grid {median_seconds(lambda: ei.world_embeddings(choice, args.resolution, lambda: encoder), args.repeat):.3f} s"
        pca = median_seconds(lambda: ei.principal_components(world, 10), args.repeat)
        on_click = median_seconds(lambda: click(encoder, world, raster), args.repeat)
        baseline = median_seconds(lambda: direct_globe_kernel(encoder, raster), args.repeat)
        profile = median_seconds(lambda: ei.effective_resolution(encoder, 0.0), 1)
        print(
            f"{choice.label:32s} {grid}; PCA {pca:.3f} s; click {on_click:.3f} s "
            f"(baseline globe kernel computed per click: {baseline:.3f} s alone, {baseline / on_click:.1f}x the whole click); "
            f"profile {profile:.2f} s"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
