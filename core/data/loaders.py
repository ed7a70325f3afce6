"""The dataset formats users can bring, and loading one from a path inside the data root."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.data.base import GeoImageDataset
from core.data.csv_dataset import BAD_ROW_CHOICES, load_geo_csv
from core.data.errors import DatasetError
from core.data.fmow import FMOW_PRODUCTS, load_fmow
from core.data.geoimagenet import load_geoimagenet
from core.data.inat import INAT_SPLITS, load_inat2018
from core.data.paths import OutsideRootError, data_root, path_problem, resolve_inside
from core.data.photo_folder import load_photo_folder


@dataclass(frozen=True)
class DatasetFormat:
    """A loader taking the dataset path first, what it expects, which options are paths too, and the
    allowed values of options that take one of a few (forms offer those as a choice)."""

    loader: Callable[..., GeoImageDataset]
    description: str
    path_options: tuple[str, ...] = ()
    option_choices: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def options(self) -> dict[str, str | None]:
        """The loader's options (its parameters after the path) and their defaults (None: required)."""
        parameters = list(inspect.signature(self.loader).parameters.values())[1:]
        return {p.name: None if p.default is inspect.Parameter.empty else p.default for p in parameters}


DATASET_FORMATS: dict[str, DatasetFormat] = {
    "fmow": DatasetFormat(
        load_fmow,
        "fMoW-rgb folder: {split}/{category}/{category}_{site}/*_{product}.jpg + JSON, or anonymous test/seq "
        "folders, with the ground truth ({split}_gt/, {split}_gt_mapping.json) beside them or in ground_truth",
        ("ground_truth",),
        option_choices={"product": FMOW_PRODUCTS},
    ),
    "inat2018": DatasetFormat(
        load_inat2018,
        "iNat2018 folder: {split}2018.json + inat2018_locations/{split}2018_locations.json [+ categories.json]",
        option_choices={"split": INAT_SPLITS},
    ),
    "geo_csv": DatasetFormat(
        load_geo_csv,
        "CSV file with columns path,label,lat,lon[,timestamp] (or aliases; , ; or tab) over an image folder",
        ("image_root",),
        {"on_bad_rows": BAD_ROW_CHOICES},
    ),
    "geoimagenet": DatasetFormat(
        load_geoimagenet,
        "GeoImageNet downloader output: imagenet_images/<class>/<flickr id>.jpg + headerless metadata.csv "
        "(id,lat,lon,locality,country,region,county; -1000 = no location)",
    ),
    "photo_folder": DatasetFormat(load_photo_folder, "folder of your own photos, located by their EXIF GPS"),
}


def option_argument(text: str) -> tuple[str, str]:
    """A command line's loader option ``KEY=VALUE`` as ``(key, value)`` (for argparse's ``type=``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def inside_data_root(path: str | Path) -> Path:
    """A path the user typed, resolved inside the data root; a clear :class:`DatasetError` for anything else."""
    root = data_root()
    if problem := path_problem(path, typed=True):
        raise DatasetError(root, problem)
    try:
        return resolve_inside(root, path)
    except OutsideRootError as exc:
        raise DatasetError(path, f"datasets must be inside the data folder {root}") from exc


def load_user_dataset(fmt: str, path: str | Path, **options) -> GeoImageDataset:
    """Load the dataset of format ``fmt`` at ``path`` (relative to, and never outside, the data root)."""
    if fmt not in DATASET_FORMATS:
        raise DatasetError(path, f"unknown dataset format {fmt!r}; known: {', '.join(DATASET_FORMATS)}")
    spec = DATASET_FORMATS[fmt]
    if unknown := sorted(set(options) - set(spec.options)):
        raise DatasetError(path, f"the {fmt} format has no option {', '.join(unknown)}; its options: {', '.join(spec.options) or 'none'}")
    for key in spec.path_options:
        if options.get(key) is not None:
            options[key] = inside_data_root(options[key])
    return spec.loader(inside_data_root(path), **options)
