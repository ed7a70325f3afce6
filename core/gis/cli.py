"""``python -m core export samples|embedding|class-probs|heatmap|zonal --out FILE``: the app's tables as GIS layers.

The format follows ``--out``'s suffix: .gpkg (GeoPackage), .parquet (GeoParquet) or .geojson. Input vector
files (``--region``, ``--zones``) are paths under the data root (``GEOCSP_DATA_ROOT``), like datasets.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from core.data.loaders import option_argument

if TYPE_CHECKING:
    import geopandas as gpd

KINDS = ("samples", "embedding", "class-probs", "heatmap", "zonal")


def _encoder_choice(text: str):
    """``run:DIR``, ``model:DIR``, ``untrained:ENCODING[:SEED]`` or ``pretrained:geoclip`` as an EncoderChoice."""
    from core.location.loading import EncoderChoice

    source, _, rest = text.partition(":")
    if source == "untrained":
        name, _, seed = rest.partition(":")
        return EncoderChoice("untrained", name, int(seed or 0))
    if source in ("run", "model", "pretrained") and rest:
        return EncoderChoice(source, rest)
    raise argparse.ArgumentTypeError(f"{text!r}: use run:DIR, model:DIR (an exported model folder), untrained:ENCODING[:SEED] or pretrained:geoclip")


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``export`` command and its arguments on ``sub``."""
    export = sub.add_parser("export", help="write a table of the app as a GeoPackage, GeoParquet or GeoJSON layer")
    export.add_argument("kind", choices=KINDS)
    export.add_argument("--out", type=Path, required=True, help="output file: .gpkg, .parquet or .geojson")
    export.add_argument("--dataset", default="default", help="samples: 'default' or '<format>:<path under the data root>'")
    export.add_argument(
        "--option", action="append", type=option_argument, default=[], metavar="KEY=VALUE", help="samples: a loader option (e.g. split=val)"
    )
    export.add_argument("--region", default=None, help="vector file of polygons (under the data root) to restrict to")
    export.add_argument("--run", type=Path, help="class-probs, zonal: a finetune run; heatmap: a CSP pretrain run")
    export.add_argument("--encoder", type=_encoder_choice, default=None, help="embedding: run:DIR, model:DIR, untrained:ENCODING[:SEED] or pretrained:geoclip")
    export.add_argument("--resolution", type=int, default=2, help="H3 resolution of the hexagons (embedding, class-probs: 0-3)")
    export.add_argument("--k", type=int, default=8, help="k-means clusters (embedding, zonal)")
    export.add_argument("--vector", choices=("none", "columns", "list"), default="none", help="embedding: also write the vectors")
    export.add_argument("--classes", default=None, help="class-probs: comma-separated class names or indices (default: all)")
    export.add_argument("--record", type=int, default=None, help="heatmap: the record of the run's dataset to geolocate")
    export.add_argument("--zones", default=None, help="zonal: vector file of polygons (under the data root)")


def _region(path: str | None):
    from core.gis.read import read_vector_file
    from core.gis.region import region_from_layer

    return None if path is None else region_from_layer(read_vector_file(path))


def _class_indices(text: str | None, names) -> list[int] | None:
    if text is None:
        return None
    indices = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part in names:
            indices.append(list(names).index(part))
        elif part.isdigit() and int(part) < len(names):
            indices.append(int(part))
        else:
            raise ValueError(f"--classes: no class {part!r}; the run's classes: {', '.join(names)}")
    return indices


def _require(value, flag: str, kind: str):
    if value is None:
        raise ValueError(f"export {kind} needs {flag}")
    return value


def build_layer(args: argparse.Namespace) -> gpd.GeoDataFrame:
    """The layer ``export`` writes for ``args``."""
    from core.workflows import embedding_map as em
    from core.location import loading as encoders
    from core.gis import tables

    region = _region(args.region)
    if args.kind == "samples":
        from core.train.config import DataConfig
        from core.train.data import open_dataset

        dataset = open_dataset(DataConfig(dataset=args.dataset, dataset_options=dict(args.option)))
        located = dataset.has_location & (region.contains(dataset.lonlat) if region is not None else True)
        return tables.samples_layer(dataset, located.nonzero()[0])
    if args.kind == "embedding":
        from core.workflows.embedding_cache import grid_embeddings

        choice = _require(args.encoder, "--encoder", args.kind)
        cells, embeddings = grid_embeddings(choice, args.resolution, region, lambda: encoders.load_choice(choice))
        return tables.embedding_layer(cells, embeddings, args.k, args.vector)
    if args.kind == "class-probs":
        from core.workflows.predict import Predictor

        predictor = Predictor(_require(args.run, "--run", args.kind))
        cells = em.region_cells(args.resolution, region)
        return tables.predicted_class_layer(predictor, cells, _class_indices(args.classes, predictor.class_names))
    if args.kind == "heatmap":
        return tables.heatmap_layer(_geolocate_record(_require(args.run, "--run", args.kind), _require(args.record, "--record", args.kind), args.resolution))
    from core.gis.read import read_vector_file
    from core.gis.region import zones_from_layer
    from core.gis.zonal import run_zonal_summary
    from core.workflows.predict import Predictor

    zones = zones_from_layer(read_vector_file(_require(args.zones, "--zones", args.kind)))
    run = _require(args.run, "--run", args.kind)
    return run_zonal_summary(zones, Predictor(run), encoders.run_location_encoder(run), args.resolution, args.k)


def _geolocate_record(run: Path, record: int, resolution: int):
    """P(x | I) of record ``record`` of the CSP run's own dataset over the H3 grid at ``resolution``, divided by Z(x)
    as the app does by default."""
    from core.data.default_dataset import DefaultDataset
    from core.workflows.geolocate import Geolocator, GridSpec
    from core.train.data import open_dataset

    geolocator = Geolocator(run)
    dataset = open_dataset(geolocator.config.data)
    if not 0 <= record < len(dataset):
        raise ValueError(f"--record must be in 0..{len(dataset) - 1}, got {record}")
    view = geolocator.config.data.view
    image = dataset.load_image(record, view) if isinstance(dataset, DefaultDataset) else dataset.load_image(record)
    return geolocator.locate_images([image], GridSpec(resolution), geolocator.tau, normalise=True)[0]


def run_export(args: argparse.Namespace) -> int:
    """Build the layer and write it; prints what was written."""
    from core.gis.export import format_of, write_layer

    format_of(args.out)  # an unknown suffix fails before any work
    layer = build_layer(args)
    path = write_layer(layer, args.out, layer=args.kind.replace("-", "_"))
    print(f"wrote {len(layer):,} {args.kind} rows to {path}")
    return 0
