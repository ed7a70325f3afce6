"""Loader for iNat2018: COCO-style ``{split}2018.json`` plus ``{split}2018_locations.json``.

The locations file is a list of ``{id, lat, lon, date, loc_uncert}`` keyed by image id; a null
lat/lon gives a record with an unknown (NaN) location, which is kept.
"""

from __future__ import annotations

from pathlib import Path

from core.data.base import GeoImageDataset, records_from_columns
from core.data.errors import DatasetError
from core.data.fields import checked_location, parse_number, parse_timestamp, read_json
from core.data.paths import resolve_inside


def _entries(content: dict, key: str, fields: tuple[str, ...], path: Path) -> list[dict]:
    """``content[key]``: a list of objects each holding ``fields``."""
    entries = content.get(key, [])
    if not isinstance(entries, list):
        raise DatasetError(path, f"{key!r} must be a list")
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or any(field not in entry for field in fields):
            raise DatasetError(path, f"{key}[{position}] must be an object with fields {', '.join(fields)}")
    return entries


def _labels(content: dict, path: Path) -> tuple[dict, list[str]]:
    """image id -> contiguous label index, and class names in label order."""
    categories = sorted(_entries(content, "categories", ("id", "name"), path), key=lambda c: c["id"])
    index_of = {category["id"]: index for index, category in enumerate(categories)}
    labels = {}
    for annotation in _entries(content, "annotations", ("image_id", "category_id"), path):
        if annotation["category_id"] not in index_of:
            raise DatasetError(
                path,
                f"annotation of image {annotation['image_id']} has unknown category_id {annotation['category_id']!r}",
            )
        labels[annotation["image_id"]] = index_of[annotation["category_id"]]
    return labels, [str(category["name"]) for category in categories]


def _locations(path: Path, image_ids: list) -> dict:
    """image id -> location entry; the ids must be exactly the images'."""
    entries = read_json(path, list)
    by_id = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            raise DatasetError(path, f"entry {position} must be an object with an 'id'")
        by_id[entry["id"]] = entry
    missing = [image_id for image_id in image_ids if image_id not in by_id]
    extra = len(by_id.keys() - set(image_ids))
    if missing or extra or len(entries) != len(image_ids):
        raise DatasetError(
            path,
            f"the location list does not match the images: {len(entries)} entries for {len(image_ids)} images, "
            f"{len(missing)} images without a location entry"
            + (f" (first: image id {missing[0]})" if missing else "")
            + f", {extra} entries for unknown image ids",
        )
    return by_id


def load_inat2018(root: str | Path, split: str = "train") -> GeoImageDataset:
    """Load iNat2018 ``split`` (train/val) under ``root``; images are paths relative to ``root``."""
    root = Path(root).resolve()
    annotations_path = resolve_inside(root, f"{split}2018.json")  # a split like "../x" stays refused
    locations_path = resolve_inside(root, f"{split}2018_locations.json")
    content = read_json(annotations_path, dict)
    images = _entries(content, "images", ("id", "file_name"), annotations_path)
    if not images:
        raise DatasetError(annotations_path, "lists no images")
    labels, class_names = _labels(content, annotations_path)
    locations = _locations(locations_path, [image["id"] for image in images])

    columns: dict[str, list] = {key: [] for key in ("image", "lon", "lat", "label", "timestamp", "site_id")}
    image_ids, uncertainty, missing = [], [], []
    for image in images:
        where = f"image id {image['id']}"
        location = locations[image["id"]]
        lon = parse_number(location.get("lon"), locations_path, where, "lon")
        lat = parse_number(location.get("lat"), locations_path, where, "lat")
        lon, lat = checked_location(lon, lat, locations_path, where)
        try:
            image_path = resolve_inside(root, image["file_name"])
        except DatasetError as exc:
            raise DatasetError(annotations_path, f"{where}: {exc.problem}") from exc
        if not image_path.is_file():
            missing.append(image["file_name"])
        columns["image"].append(str(image["file_name"]))
        columns["lon"].append(lon)
        columns["lat"].append(lat)
        columns["label"].append(labels.get(image["id"], -1))
        columns["timestamp"].append(parse_timestamp(location.get("date"), locations_path, where))
        columns["site_id"].append(None)
        image_ids.append(image["id"])
        uncertainty.append(parse_number(location.get("loc_uncert"), locations_path, where, "loc_uncert"))
    if missing:
        raise DatasetError(
            annotations_path,
            f"{len(missing)} of the {len(images)} images it lists are missing on disk (first: {missing[0]})",
        )
    records = records_from_columns(**columns)
    records["image_id"] = image_ids
    records["loc_uncert"] = uncertainty
    return GeoImageDataset(f"iNat2018 {split}", root, records, class_names)
