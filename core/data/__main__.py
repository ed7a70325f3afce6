"""Command line for data: ``python -m core.data build-default | verify-default``."""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from core.data.default_dataset import (
    DefaultDatasetConfig,
    build_default_dataset,
    default_directory,
    ensure_default_dataset,
    verify_default_dataset,
)
from core.data.sources import source_fingerprints


def main(argv: list[str] | None = None) -> int:
    """Build or verify the embedded default dataset; prints the manifest summary."""
    parser = argparse.ArgumentParser(prog="python -m core.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-default", help="build the default dataset if missing or stale")
    defaults = DefaultDatasetConfig()
    build.add_argument("--n", type=int, default=defaults.n_locations, help="number of places")
    build.add_argument("--chip-px", type=int, default=defaults.chip_px, help="chip side in pixels")
    build.add_argument("--seed", type=int, default=defaults.seed)
    build.add_argument("--split", choices=["h3", "latlon", "random"], default=defaults.split_scheme)
    build.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    sub.add_parser("verify-default", help="re-hash the built files against the manifest")
    args = parser.parse_args(argv)

    if args.command == "verify-default":
        mismatched = verify_default_dataset()
        print("all files match the manifest" if not mismatched else f"mismatched: {', '.join(mismatched)}")
        return 1 if mismatched else 0

    config = DefaultDatasetConfig(n_locations=args.n, chip_px=args.chip_px, seed=args.seed, split_scheme=args.split)
    with tqdm(total=100, desc="default dataset", unit="%") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(round(100 * fraction) - bar.n)

        if args.force:
            manifest = build_default_dataset(config, default_directory(), progress, source_fingerprints())
        else:
            manifest = ensure_default_dataset(config, progress, default_directory())
    summary = {key: manifest[key] for key in ("n_locations", "chip_px", "build_seconds", "split_counts", "class_counts")}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
