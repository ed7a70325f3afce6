"""Command line: ``python -m core.image list | extract --encoder NAME [--view VIEW]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from core.data.sources import VIEW_SOURCES
from core.image.features import DEFAULT_BATCH_SIZE, available_threads, extract_features
from core.image.registry import list_image_encoders


def main(argv: list[str] | None = None) -> int:
    """List the image encoders, or extract (and cache) features of the default dataset's chips."""
    parser = argparse.ArgumentParser(prog="python -m core.image", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered image encoders")
    extract = sub.add_parser("extract", help="extract features of the default dataset (cached, resumable)")
    extract.add_argument("--encoder", required=True, choices=[spec.name for spec in list_image_encoders()])
    extract.add_argument("--view", default=VIEW_SOURCES[0], choices=VIEW_SOURCES, help="which chips to encode")
    extract.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    extract.add_argument("--cache-dir", type=Path, default=None, help="default: <data cache>/features")
    args = parser.parse_args(argv)

    if args.command == "list":
        for spec in list_image_encoders():
            missing = spec.missing_packages()
            note = f"  [missing: {', '.join(missing)}]" if missing else ""
            print(f"{spec.name:26s} {spec.feature_dim:5d}-d  {spec.input_size:4d} px  {spec.description}{note}")
        return 0

    from core.data.default_dataset import load_default_dataset

    dataset = load_default_dataset()
    threads = f"{torch.get_num_threads()} workers × 1 torch thread on {available_threads()} cores"
    print(f"{len(dataset)} chips, {threads}", file=sys.stderr)
    with tqdm(total=len(dataset), desc=args.encoder, unit="img") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message, refresh=False)
            bar.update(round(fraction * len(dataset)) - bar.n)

        features = extract_features(
            dataset,
            args.encoder,
            batch_size=args.batch_size,
            progress=progress,
            cache_dir=args.cache_dir,
            view=args.view,
        )
    print(f"features {features.shape} {features.dtype} at {Path(features.filename)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
