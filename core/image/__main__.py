"""Command line: ``python -m core.image list | extract --encoder NAME [--dataset FORMAT:PATH] [options]``.

``extract`` takes the dataset as the training config names it (``default`` or ``<format>:<path
under the data root>``, loader options as ``--option key=value``), so the features it caches are
the ones training reads. Under ``torchrun --nproc-per-node N -m core.image extract ...`` each rank
extracts its slice and rank 0 merges them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from core.data.loaders import option_argument
from core.data.sources import VIEW_SOURCES
from core.image.crops import FMOW_CONTEXT, CropOptions
from core.image.features import DEFAULT_BATCH_SIZE, available_threads, extract_features, extraction_record
from core.image.registry import list_image_encoders

#: Skipped files listed one by one at most; the full list is in the cache entry's sidecar.
LISTED_SKIPS = 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.image", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered image encoders")
    extract = sub.add_parser("extract", help="extract features of a dataset (cached, resumable, shardable with torchrun)")
    extract.add_argument("--encoder", required=True, help="a registered image encoder (see `list`) or moco:<run>")
    extract.add_argument(
        "--dataset", default="default", help="'default' or '<format>:<path under the data root>', e.g. fmow:fmow-rgb"
    )
    extract.add_argument(
        "--option", action="append", type=option_argument, default=[], metavar="KEY=VALUE", help="a loader option (e.g. split=val)"
    )
    extract.add_argument("--view", default=None, choices=VIEW_SOURCES, help="which chips of the default dataset to encode")
    extract.add_argument(
        "--crop-context",
        default=FMOW_CONTEXT,
        help=f"context around object boxes: '{FMOW_CONTEXT}' (the fMoW baseline's schedule) or a multiplier such as 0.3",
    )
    extract.add_argument("--no-box", action="store_true", help="encode the centre square even where a record has an object box")
    extract.add_argument("--device", default="cpu", help="cpu, or cuda (mixed precision; falls back to the CPU without a GPU)")
    extract.add_argument(
        "--workers", type=int, default=None, help="image-decoding processes (default: one per core, at most 8; 0: none)"
    )
    extract.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    extract.add_argument("--cache-dir", type=Path, default=None, help="default: <data cache>/features")
    return parser


def main(argv: list[str] | None = None) -> int:
    """List the image encoders, or extract (and cache) features of a dataset."""
    args = _parser().parse_args(argv)
    if args.command == "list":
        for spec in list_image_encoders():
            missing = spec.missing_packages()
            note = f"  [missing: {', '.join(missing)}]" if missing else ""
            print(f"{spec.name:26s} {spec.feature_dim:5d}-d  {spec.input_size:4d} px  {spec.description}{note}")
        return 0
    try:
        return _extract(args)
    except (ValueError, KeyError) as exc:  # bad dataset spec, options, encoder name or crop context
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2


def _extract(args: argparse.Namespace) -> int:
    from core.train.config import DataConfig
    from core.train.data import open_dataset
    from core.ranks import init_from_environment

    crop = CropOptions.parse(args.crop_context, use_box=not args.no_box)
    dataset = open_dataset(DataConfig(dataset=args.dataset, dataset_options=dict(args.option)))
    view = (args.view or VIEW_SOURCES[0]) if args.dataset == "default" else args.view
    rank, world = init_from_environment()
    threads = f"{torch.get_num_threads()} encoding threads on {available_threads()} cores"
    print(f"{dataset.name}: {len(dataset)} images, {threads}, rank {rank} of {world}", file=sys.stderr)
    with tqdm(total=1000, desc=args.encoder, unit="‰", disable=rank != 0) as bar:

        def progress(fraction: float, message: str) -> None:
            if message.startswith(("skipped", "no CUDA")):
                tqdm.write(message, file=sys.stderr)
            bar.set_postfix_str(message, refresh=False)
            bar.update(round(fraction * 1000) - bar.n)

        features = extract_features(
            dataset,
            args.encoder,
            batch_size=args.batch_size,
            progress=progress,
            cache_dir=args.cache_dir,
            view=view,
            crop=crop,
            device=args.device,
            workers=args.workers,
        )
    if rank == 0:
        _summarise(features)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


def _summarise(features) -> None:
    """Where the features are, and which images were skipped (the sidecar holds the full list)."""
    record = extraction_record(features)
    skipped = record["skipped"]
    print(f"features {features.shape} {features.dtype} at {Path(features.filename)}")
    if skipped:
        print(f"{len(skipped)} image(s) skipped (zero features), listed in {Path(features.filename).with_suffix('.json')}:")
        for bad in skipped[:LISTED_SKIPS]:
            print(f"  row {bad['row']}: {bad['image']}: {bad['reason']}")
        if len(skipped) > LISTED_SKIPS:
            print(f"  … and {len(skipped) - LISTED_SKIPS} more")


if __name__ == "__main__":
    sys.exit(main())
