"""Server-side cost of the Embedding map page: a global H3 map embedded, clustered and rendered.

Targets: the world at resolution 2 (5 882 hexes) computed and rendered in < 2 s (issue 6); with GeoCLIP's
pretrained encoder (``--geoclip``) at resolution 3 (41 162 hexes), < 2 s after the first time on a machine
(issue 14: its grid embeddings are cached on disk, :mod:`core.workflows.embedding_cache`). Times, per resolution:
embedding the cell centres (encoder built, forward pass; for GeoCLIP, read from the disk cache after a server
start), k-means clustering, the hex layer's GeoJSON, the map's HTML as ``st_folium`` renders it (bare mode,
no browser), and the total, for the first map after a server start (cell geometry, and GeoCLIP's embeddings,
read from the disk caches); then the embedding and GeoJSON times the very first time on a machine (computed)
and the GeoJSON once it is in memory. A second render shows what a click costs. Medians over the repeats;
figures depend on the machine and its load.

    python -m benchmarks.app_embedding_map [--encoding theory | --geoclip] [--k 8] [--resolutions 2 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar
from unittest import mock

import numpy as np
from streamlit.logger import set_log_level
from streamlit_folium import st_folium

from core.workflows import embedding_cache
from core.location import loading as encoders
from core.hexgrid import cell_polygon
from geovis import embedding_layers as layers
from geovis.hex_layer import hex_layer_json, world_geometry

T = TypeVar("T")


def timed(function: Callable[[], T]) -> tuple[T, float]:
    """(result, seconds) of one call."""
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def render(view: layers.EmbeddingView) -> None:
    """Build the folium map and render it the way the page does (``st_folium`` without a browser)."""
    st_folium(layers.embedding_folium_map(view, None, "bluemarble"), key=layers.MAP_KEY, returned_objects=["last_clicked"])


def geojson_seconds(cells: list[str], colors: list[str], tooltips: list[str] | None) -> tuple[str, dict[str, float]]:
    """The hex layer's text and its build time: first time on a machine (no geometry cached anywhere),
    after a server start (geometry on disk only) and warm (in memory)."""
    seconds = {}
    with tempfile.TemporaryDirectory() as empty_cache, mock.patch.dict(os.environ, {"GEOCSP_CACHE": empty_cache}):
        for case in ("first", "restart", "warm"):
            if case != "warm":
                world_geometry.cache_clear()
                cell_polygon.cache_clear()
            geojson, seconds[case] = timed(lambda: hex_layer_json(cells, colors, tooltips))
    return geojson, seconds


def embedding_seconds(choice: encoders.EncoderChoice, resolution: int) -> tuple[list[str], np.ndarray, dict[str, float]]:
    """The world's cells and embeddings by ``choice``, and the embedding time the first time on a machine (no
    disk cache anywhere) and after a server start (the disk cache, if ``choice`` has one, already written)."""
    seconds = {}
    with tempfile.TemporaryDirectory() as empty_cache, mock.patch.dict(os.environ, {"GEOCSP_CACHE": empty_cache}):
        for case in ("first", "restart"):
            (cells, embeddings), seconds[case] = timed(
                lambda: embedding_cache.grid_embeddings(choice, resolution, None, lambda: encoders.load_choice(choice))
            )
    return cells, embeddings, seconds


def measure(choice: encoders.EncoderChoice, resolution: int, k: int) -> dict[str, float]:
    """Seconds per stage for the world at ``resolution``, totals per cache state, hexes and layer MB."""
    cells, embeddings, embed_s = embedding_seconds(choice, resolution)
    (clusters, colors, tooltips), cluster_s = timed(lambda: layers.colour_cells(embeddings, layers.Colouring("kmeans", k)))
    geojson, geojson_s = geojson_seconds(cells, colors, tooltips)
    view = layers.EmbeddingView(tuple(cells), clusters, tuple(colors), geojson)
    _, html_s = timed(lambda: render(view))
    _, click_s = timed(lambda: render(view))
    return {
        "hexes": len(cells), "embedding": embed_s["restart"], "embedding_first": embed_s["first"],
        "clustering": cluster_s, "html": html_s, "rerender": click_s,
        **{f"geojson_{case}": s for case, s in geojson_s.items()},
        **{
            f"total_{case}": embed_s["first" if case == "first" else "restart"] + cluster_s + s + html_s
            for case, s in geojson_s.items()
        },
        "layer_mb": len(geojson) / 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    """Print the median of each stage over the repeats, one line per resolution, and whether the target is met."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoding", default="theory", help="untrained registry encoding (default theory)")
    parser.add_argument("--geoclip", action="store_true", help="GeoCLIP's pretrained encoder instead (disk-cached embeddings)")
    parser.add_argument("--k", type=int, default=8, help="k-means clusters (default 8)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per resolution; medians are printed (default 3)")
    args = parser.parse_args(argv)
    set_log_level("error")  # st_folium outside `streamlit run` warns about the missing runtime
    choice = encoders.EncoderChoice("pretrained", "geoclip") if args.geoclip else encoders.EncoderChoice("untrained", args.encoding)
    print(f"{choice.label}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; medians of {args.repeat} runs")
    for resolution in args.resolutions:
        runs = [measure(choice, resolution, args.k) for _ in range(args.repeat)]
        row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(
            f"res {resolution}: {row['hexes']:,.0f} hexes · embedding {row['embedding']:.2f} s · "
            f"clustering {row['clustering']:.2f} s · GeoJSON {row['geojson_restart']:.2f} s ({row['layer_mb']:.1f} MB) · "
            f"HTML {row['html']:.2f} s · total {row['total_restart']:.2f} s · re-render (a click) {row['rerender']:.2f} s\n"
            f"  first time on a machine: embedding {row['embedding_first']:.2f} s, GeoJSON {row['geojson_first']:.2f} s "
            f"(total {row['total_first']:.2f} s); GeoJSON warm {row['geojson_warm']:.3f} s (total {row['total_warm']:.2f} s)"
        )
        met = "met" if row["total_restart"] < 2.0 else "NOT met"
        if args.geoclip and resolution == 3:
            print(f"  target < 2 s for GeoCLIP at resolution 3 after the first time on a machine: {met}")
        elif not args.geoclip and resolution == 2:
            print(f"  target < 2 s for resolution 2 (after a server start): {met}")


if __name__ == "__main__":
    main()
