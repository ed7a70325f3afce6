"""Loader for fMoW-rgb as it is distributed (Christie et al., CVPR 2018; github.com/fMoW/dataset).

Layout of the release (``s3://spacenet-dataset/Hosted-Datasets/fmow/fmow-rgb``)::

    train/{category}/{category}_{n}/{category}_{n}_{k}_{product}.jpg   + .json beside each image
    val/  (same)
    test/{0011978}/{0011978}_{k}_{product}.jpg                         + .json (anonymous folders)
    seq/  (same as test)
    groundtruth.tar.bz2 → {split}_gt/{category}/{category}_{n}/{category}_{n}_{k}_{product}.json
                          test_gt_mapping.json, seq_gt_mapping.json

``product`` is ``rgb`` (pan-sharpened, up to ~8200×6300 px) or ``msrgb`` (multispectral RGB, smaller):
two files per acquisition, of which the reference baseline reads only ``_rgb``. The JSONs of the
challenge-era release have their GPS (``raw_location``, a WKT polygon in lon lat) stripped, and the
test/seq JSONs their categories too; the ground-truth archive holds the full metadata of every image
and, for test/seq, a mapping list of ``{"input": "test_gt/{category}/{category}_{n}", "output":
"test/{0011978}"}``. With the ground truth (found in the dataset folder, or named by
``ground_truth``) metadata, location and label come from it; without it, from the JSON beside the image.

A record's location is the centroid of ``raw_location``; the images of one site are its temporal
sequence (``site_id``). The labelled object's pixel box ``[x, y, width, height]`` (left, top) goes to
:data:`core.data.base.CROP_COLUMNS`. The reference baseline (fMoW/baseline,
``code/data_ml_functions/dataFunctions.py``) makes one training sample per box, skips boxes 2 px or
less wide or high, and crops each with context: a margin of 15 % of the box's size when the box
spans at least half the image, rising to 20, 30, 50, 100 and 200 % as the box-to-image ratio falls
below 0.4, 0.3, 0.2, 0.1 (and 0.5 for the 20 % step), half on each side, clamped to the image, then
resized to the network input (its ratios compare the box width with the image height and the box
height with the image width). Ground-truth JSONs list a first box with ``ID`` -1 before the scored
boxes; the baseline trains on the boxes with real IDs, so those are preferred here.
Licence: Functional Map of the World Challenge Public License.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import shapely.wkt

from core.data.base import CROP_COLUMNS, GeoImageDataset, records_from_columns
from core.data.errors import DatasetError
from core.data.fields import checked_location, read_json, timestamp_or_problem
from core.data.paths import resolve_inside

#: The 62 fMoW categories; a record's label is its index here.
FMOW_CATEGORIES: tuple[str, ...] = (
    "airport", "airport_hangar", "airport_terminal", "amusement_park", "aquaculture",
    "archaeological_site", "barn", "border_checkpoint", "burial_site", "car_dealership",
    "construction_site", "crop_field", "dam", "debris_or_rubble", "educational_institution",
    "electric_substation", "factory_or_powerplant", "fire_station", "flooded_road", "fountain",
    "gas_station", "golf_course", "ground_transportation_station", "helipad", "hospital",
    "impoverished_settlement", "interchange", "lake_or_pond", "lighthouse", "military_facility",
    "multi-unit_residential", "nuclear_powerplant", "office_building", "oil_or_gas_facility", "park",
    "parking_lot_or_garage", "place_of_worship", "police_station", "port", "prison", "race_track",
    "railway_bridge", "recreational_facility", "road_bridge", "runway", "shipyard", "shopping_mall",
    "single-unit_residential", "smokestack", "solar_farm", "space_facility", "stadium",
    "storage_tank", "surface_mine", "swimming_pool", "toll_booth", "tower", "tunnel_opening",
    "waste_disposal", "water_treatment_facility", "wind_farm", "zoo",
)  # fmt: skip

#: The image products of fMoW-rgb: pan-sharpened RGB and multispectral RGB.
FMOW_PRODUCTS = ("rgb", "msrgb")
#: The archive of the fMoW release holding the full metadata (GPS included) and the test/seq mappings.
GROUND_TRUTH_ARCHIVE = "groundtruth.tar.bz2"
#: Metadata kept as extra record columns (None where a JSON lacks it).
EXTRA_FIELDS = ("gsd", "cloud_cover", "country_code", "utm", "img_width", "img_height")


def _visible_entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _subfolders(folder: Path) -> list[Path]:
    return [p for p in _visible_entries(folder) if p.is_dir()]


def _unwrap_west(xy: np.ndarray) -> np.ndarray:
    """Shift negative longitudes by +360° so a polygon crossing the antimeridian is contiguous."""
    shifted = xy.copy()
    shifted[xy[:, 0] < 0, 0] += 360.0
    return shifted


def _centroid(wkt_text: object, path: Path) -> tuple[float, float]:
    """(lon, lat) centroid of a WKT polygon in lon lat; polygons crossing the antimeridian are unwrapped."""
    try:
        geometry = shapely.wkt.loads(str(wkt_text))
    except shapely.errors.ShapelyError as exc:
        raise DatasetError(path, f"raw_location is not valid WKT ({exc}): {str(wkt_text)[:80]!r}") from exc
    if geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise DatasetError(path, f"raw_location must be a non-empty POLYGON, found {geometry.geom_type}")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if max(abs(min_lon), abs(max_lon)) > 180.0 or max(abs(min_lat), abs(max_lat)) > 90.0:
        raise DatasetError(
            path, f"raw_location coordinates out of range (lon {min_lon:g}..{max_lon:g}, lat {min_lat:g}..{max_lat:g})"
        )
    if max_lon - min_lon > 180.0:  # spans the antimeridian
        geometry = shapely.transform(geometry, _unwrap_west)
    centre = geometry.centroid
    return checked_location(centre.x, centre.y, path, "raw_location centroid")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _object_box(metadata: dict, category: str | None, path: Path) -> tuple[float, float, float, float]:
    """The labelled object's ``(x, y, width, height)`` from ``bounding_boxes``; NaNs when there is none.

    Boxes naming the site's category are preferred (test/seq challenge JSONs name none), then boxes
    with a real ``ID`` over the ground truth's ``ID`` -1 box; the first of those is the object.
    """
    boxes = metadata.get("bounding_boxes")
    if boxes is None or boxes == []:
        return (math.nan,) * 4
    boxes = [boxes] if isinstance(boxes, dict) else boxes  # a single box is sometimes not in a list
    if not isinstance(boxes, list):
        raise DatasetError(path, f"bounding_boxes must be a list of boxes, found {type(boxes).__name__}")
    for position, entry in enumerate(boxes):
        box = entry.get("box") if isinstance(entry, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
            raise DatasetError(path, f"bounding_boxes[{position}] must hold a 'box' [x, y, width, height], found {entry!r:.80}")
        if box[0] < 0 or box[1] < 0 or box[2] <= 0 or box[3] <= 0:
            raise DatasetError(
                path, f"bounding_boxes[{position}]: box {box} needs x, y >= 0 and a positive width and height (pixels)"
            )
    named = [entry for entry in boxes if entry.get("category") == category] or boxes
    scored = [entry for entry in named if entry.get("ID") != -1] or named
    x, y, width, height = scored[0]["box"]
    return float(x), float(y), float(width), float(height)


@dataclass(frozen=True)
class _Site:
    """One site folder of the split: where its images are, its category (None: unknown) and its name."""

    folder: Path
    category: str | None
    name: str
    gt_folder: Path | None  # its folder in the ground truth, when the ground truth is used


class _GroundTruth:
    """The extracted ground-truth archive for one split: ``{split}_gt/`` and ``{split}_gt_mapping.json``."""

    def __init__(self, folder: Path, split: str) -> None:
        self.folder = folder
        self.split = split
        self.split_dir = resolve_inside(folder, f"{split}_gt")
        if not self.split_dir.is_dir():
            raise DatasetError(
                self.split_dir, f"the fMoW ground truth has no {split}_gt folder here: extract {GROUND_TRUTH_ARCHIVE} into {folder}"
            )
        self.mapping_path = resolve_inside(folder, f"{split}_gt_mapping.json")
        self._mapping: dict[str, tuple[str, str]] | None = None

    def site_folder(self, category: str, site: str) -> Path:
        """Where the ground truth keeps the JSONs of ``site`` (a symlink may not lead out of it)."""
        return resolve_inside(self.folder, f"{self.split}_gt/{category}/{site}")

    def anonymous_site(self, folder: Path) -> tuple[str, str]:
        """(category, site) of an anonymous test/seq folder, from the mapping file."""
        if self._mapping is None:
            if not self.mapping_path.is_file():
                raise DatasetError(
                    self.mapping_path,
                    f"file not found: the anonymous {self.split}/ folders are matched to their sites by this file "
                    f"of the fMoW ground truth ({GROUND_TRUTH_ARCHIVE})",
                )
            self._mapping = _read_mapping(self.mapping_path, self.split)
        if folder.name not in self._mapping:
            raise DatasetError(folder, f"the anonymous folder is not listed in {self.mapping_path.name}")
        return self._mapping[folder.name]


def _read_mapping(path: Path, split: str) -> dict[str, tuple[str, str]]:
    """anonymous folder name -> (category, site) from a ``{split}_gt_mapping.json`` list."""
    expected = f"{{'input': '{split}_gt/<category>/<category>_<n>', 'output': '{split}/<digits>'}}"
    mapping = {}
    for position, entry in enumerate(read_json(path, list)):
        source = entry.get("input") if isinstance(entry, dict) else None
        target = entry.get("output") if isinstance(entry, dict) else None
        parts = str(source).split("/") if isinstance(source, str) else []
        anonymous = str(target).split("/") if isinstance(target, str) else []
        valid = (
            len(parts) == 3
            and parts[0] == f"{split}_gt"
            and parts[1] in FMOW_CATEGORIES
            and parts[2].removeprefix(f"{parts[1]}_").isdigit()
            and len(anonymous) == 2
            and anonymous[0] == split
            and anonymous[1].isdigit()
        )
        if not valid:
            raise DatasetError(path, f"entry {position} should be {expected}, found {entry!r:.120}")
        mapping[anonymous[1]] = (parts[1], parts[2])
    return mapping


def _sites(split_dir: Path, ground_truth: _GroundTruth | None) -> list[_Site]:
    """The split's site folders: ``{category}/{category}_{n}`` (train/val) or anonymous ``{digits}`` (test/seq)."""
    sites = []
    for entry in _subfolders(split_dir):
        if entry.name in FMOW_CATEGORIES:
            for site_dir in _subfolders(entry):
                if not site_dir.name.removeprefix(f"{entry.name}_").isdigit():
                    raise DatasetError(site_dir, f"site folder should be named {entry.name}_<site number>")
                gt_folder = ground_truth.site_folder(entry.name, site_dir.name) if ground_truth else None
                sites.append(_Site(site_dir, entry.name, site_dir.name, gt_folder))
        elif entry.name.isdigit():
            if ground_truth is None:
                sites.append(_Site(entry, None, entry.name, None))
            else:
                category, site = ground_truth.anonymous_site(entry)
                sites.append(_Site(entry, category, site, ground_truth.site_folder(category, site)))
        else:
            raise DatasetError(
                entry,
                f"{entry.name!r} is not one of the 62 fMoW categories nor an anonymous test/seq folder (digits, e.g. 0011978)",
            )
    return sites


def _site_images(site: _Site, product: str, needs_json: bool) -> list[tuple[Path, str, Path | None]]:
    """(image, acquisition number k, JSON beside it) of one site folder, for ``product`` only.

    Files are named ``{folder}_{k}_{product}.jpg/.json``; an image without its JSON (when it is the
    metadata source) or a JSON without its image raises.
    """
    files = [p for p in _visible_entries(site.folder) if p.is_file() and p.suffix.lower() in (".jpg", ".json")]
    images, jsons = {}, {}
    for path in files:
        stem_parts = path.stem.rsplit("_", 2)
        named = len(stem_parts) == 3 and stem_parts[0] == site.folder.name and stem_parts[1].isdigit()
        if not (named and stem_parts[2] in FMOW_PRODUCTS):
            raise DatasetError(
                path, f"fMoW files are named {site.folder.name}_<k>_<product>{path.suffix} (product rgb or msrgb)"
            )
        if stem_parts[2] != product:
            continue
        (images if path.suffix.lower() == ".jpg" else jsons)[path.stem] = path
    for stem, json_path in jsons.items():
        if stem not in images:
            raise DatasetError(json_path, f"metadata without its image {stem}.jpg")
    if needs_json:
        for stem, image in images.items():
            if stem not in jsons:
                raise DatasetError(image, f"image without its metadata file {stem}.json")
    return [(images[stem], stem.rsplit("_", 2)[1], jsons.get(stem)) for stem in sorted(images)]


def _missing_gps(json_path: Path, site: _Site, k: str, product: str, split: str) -> DatasetError:
    """The error for a JSON without ``raw_location``, naming the ground-truth file that holds it."""
    if site.category is None:
        needed = f"{split}_gt_mapping.json and {split}_gt/"
    else:
        needed = f"{split}_gt/{site.category}/{site.name}/{site.name}_{k}_{product}.json"
    return DatasetError(
        json_path,
        f"has no 'raw_location' (GPS is stripped from the challenge-era fMoW JSONs); it is in {needed} of the fMoW "
        f"ground truth ({GROUND_TRUTH_ARCHIVE}): extract that archive into the dataset folder or name its folder "
        "with the ground_truth option",
    )


def _ground_truth(root: Path, split: str, ground_truth: str | Path | None) -> _GroundTruth | None:
    """The ground truth named by ``ground_truth``, else the one extracted in ``root`` (if any)."""
    if ground_truth is not None:
        folder = Path(ground_truth).resolve()
        if not folder.is_dir():
            raise DatasetError(folder, f"the fMoW ground-truth folder does not exist (extract {GROUND_TRUTH_ARCHIVE} there)")
        return _GroundTruth(folder, split)
    return _GroundTruth(root, split) if (root / f"{split}_gt").is_dir() else None


def load_fmow(
    root: str | Path, split: str = "train", product: str = "rgb", ground_truth: str | Path | None = None
) -> GeoImageDataset:
    """Load the fMoW-rgb ``split`` (train, val, test, seq) under ``root``: one record per ``product`` image.

    ``product`` is ``rgb`` (the reference baseline's choice) or ``msrgb``. ``ground_truth`` is the folder
    where ``groundtruth.tar.bz2`` was extracted (default: ``root``, when it holds ``{split}_gt/``).
    Site ids are ``{category}_{n}``; anonymous test/seq folders without ground truth keep their own
    name and are unlabelled (-1).
    """
    root = Path(root).resolve()
    if product not in FMOW_PRODUCTS:
        raise DatasetError(root, f"product must be one of {', '.join(FMOW_PRODUCTS)} (fMoW-rgb image kinds), not {product!r}")
    split_dir = resolve_inside(root, split)  # a split like "../x" would read metadata outside the dataset
    if not split_dir.is_dir():
        raise DatasetError(split_dir, f"the fMoW split folder {split!r} does not exist")
    truth = _ground_truth(root, split, ground_truth)
    columns: dict[str, list] = {key: [] for key in ("image", "lon", "lat", "label", "timestamp", "site_id")}
    extras: dict[str, list] = {key: [] for key in EXTRA_FIELDS + CROP_COLUMNS}
    problems: list[str] = []
    for site in _sites(split_dir, truth):
        for image_path, k, json_path in _site_images(site, product, needs_json=site.gt_folder is None):
            if site.gt_folder is not None:
                json_path = site.gt_folder / f"{site.name}_{k}_{product}.json"
                if not json_path.is_file():
                    raise DatasetError(json_path, f"file not found: the ground truth lacks the metadata of {image_path.name}")
            metadata = read_json(json_path, dict)
            if "raw_location" not in metadata:
                raise _missing_gps(json_path, site, k, product, split)
            lon, lat = _centroid(metadata["raw_location"], json_path)
            timestamp = timestamp_or_problem(metadata.get("timestamp"), json_path, "timestamp", problems)
            columns["image"].append(image_path.relative_to(root).as_posix())
            columns["lon"].append(lon)
            columns["lat"].append(lat)
            columns["label"].append(FMOW_CATEGORIES.index(site.category) if site.category else -1)
            columns["timestamp"].append(timestamp)
            columns["site_id"].append(site.name)
            for key in EXTRA_FIELDS:
                extras[key].append(metadata.get(key))
            for key, value in zip(CROP_COLUMNS, _object_box(metadata, site.category, json_path)):
                extras[key].append(value)
    if not columns["image"]:
        raise DatasetError(split_dir, f"no fMoW images (<category>/<site>/*_{product}.jpg with JSON) found")
    records = records_from_columns(**columns)
    for key, values in extras.items():
        records[key] = values
    for key in ("gsd", "cloud_cover", "img_width", "img_height"):
        records[key] = pd.to_numeric(records[key], errors="coerce")
    records[list(CROP_COLUMNS)] = records[list(CROP_COLUMNS)].astype(np.float64)
    return GeoImageDataset(f"fMoW-{product} {split}", root, records, list(FMOW_CATEGORIES), problems)
