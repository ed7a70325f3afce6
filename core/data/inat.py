"""Loader for iNat2018 as its official archives unpack (Van Horn et al., CVPR 2018; visipedia/inat_comp).

Layout under ``root``::

    train2018.json / val2018.json / test2018.json    COCO-style: images {id, file_name, ...},
                                                     annotations {image_id, category_id} (none for test),
                                                     categories {id, name, ...} with obfuscated names
    categories.json                                  optional: the un-obfuscated categories, a list of
                                                     {id, name, supercategory, kingdom, ..., genus}
    inat2018_locations/{train,val}2018_locations.json
                                                     from inat2018_locations.zip: a list of
                                                     {id, lat, lon, date, loc_uncert, ...}
    train_val2018/<supercategory>/<category>/<image>.jpg, test2018/<image>.jpg

A locations file at ``root`` itself is accepted too. A null lat/lon gives a record with an unknown
(NaN) location, which is kept. The test split has no public locations: it loads image-only, every
location unknown. A date that cannot be read leaves that record's time unknown and is reported in
``dataset.problems``, as are obfuscated class names when ``categories.json`` is absent.
Licence: images under their owners' Creative Commons licences (see each image's ``license``).
"""

from __future__ import annotations

from pathlib import Path

from core.data.base import GeoImageDataset, records_from_columns
from core.data.errors import DatasetError
from core.data.fields import checked_location, parse_number, read_json, timestamp_or_problem
from core.data.paths import resolve_inside

INAT_SPLITS = ("train", "val", "test")
#: The folder ``inat2018_locations.zip`` unpacks to.
LOCATIONS_FOLDER = "inat2018_locations"
#: The un-obfuscated category list (``categories.json.tar.gz``).
CATEGORIES_FILE = "categories.json"


def _entries(content: dict, key: str, fields: tuple[str, ...], path: Path) -> list[dict]:
    """``content[key]``: a list of objects each holding ``fields``."""
    entries = content.get(key, [])
    return _checked_list(entries, key, fields, path)


def _checked_list(entries: object, what: str, fields: tuple[str, ...], path: Path) -> list[dict]:
    if not isinstance(entries, list):
        raise DatasetError(path, f"{what!r} must be a list")
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or any(field not in entry for field in fields):
            raise DatasetError(path, f"{what}[{position}] must be an object with fields {', '.join(fields)}")
    return entries


def _real_names(root: Path) -> dict | None:
    """category id -> species name from ``categories.json``, or None when the file is absent."""
    path = resolve_inside(root, CATEGORIES_FILE)
    if not path.is_file():
        return None
    categories = _checked_list(read_json(path, list), "categories", ("id", "name"), path)
    return {category["id"]: str(category["name"]) for category in categories}


def _categories(content: dict, path: Path, root: Path, problems: list[str]) -> list[tuple[object, str]]:
    """(category id, class name) in id order: the split's categories named from ``categories.json`` when present."""
    listed = {c["id"]: str(c["name"]) for c in _entries(content, "categories", ("id", "name"), path)}
    real = _real_names(root)
    if real is None:
        if listed and all(name.strip().isdigit() for name in listed.values()):
            problems.append(
                f"{path.name}: category names are obfuscated numbers; put {CATEGORIES_FILE} "
                "(from categories.json.tar.gz) beside it for the species names"
            )
        return sorted(listed.items(), key=lambda item: item[0])
    if unknown := [category_id for category_id in listed if category_id not in real]:
        raise DatasetError(
            root / CATEGORIES_FILE,
            f"lacks {len(unknown)} category id(s) of {path.name} (first: {unknown[0]!r}); is it the iNat2018 one?",
        )
    return sorted(real.items() if not listed else ((i, real[i]) for i in listed), key=lambda item: item[0])


def _labels(content: dict, path: Path, index_of: dict) -> dict:
    """image id -> contiguous label index (none for a split without annotations, like test)."""
    labels = {}
    for annotation in _entries(content, "annotations", ("image_id", "category_id"), path):
        if annotation["category_id"] not in index_of:
            raise DatasetError(
                path,
                f"annotation of image {annotation['image_id']} has unknown category_id {annotation['category_id']!r}",
            )
        labels[annotation["image_id"]] = index_of[annotation["category_id"]]
    return labels


def locations_path(root: Path, split: str) -> Path | None:
    """The split's locations file: in ``inat2018_locations/`` (as unzipped) or at ``root``; None when neither."""
    name = f"{split}2018_locations.json"
    for candidate in (f"{LOCATIONS_FOLDER}/{name}", name):
        path = resolve_inside(root, candidate)
        if path.is_file():
            return path
    return None


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


def _split_locations(root: Path, split: str, image_ids: list, problems: list[str]) -> tuple[Path | None, dict]:
    """The split's locations file and its entries by image id; the test split may have none."""
    path = locations_path(root, split)
    if path is not None:
        return path, _locations(path, image_ids)
    if split == "test":
        problems.append("test2018: iNat2018 publishes no test locations; every test record's location is unknown")
        return None, {}
    name = f"{split}2018_locations.json"
    raise DatasetError(
        root / LOCATIONS_FOLDER / name,
        f"file not found (nor {name} beside {split}2018.json): unzip inat2018_locations.zip into {root}",
    )


def load_inat2018(root: str | Path, split: str = "train") -> GeoImageDataset:
    """Load iNat2018 ``split`` (train, val or test) under ``root``; images are paths relative to ``root``."""
    root = Path(root).resolve()
    if split not in INAT_SPLITS:
        raise DatasetError(root, f"unknown iNat2018 split {split!r}; use one of {', '.join(INAT_SPLITS)}")
    annotations_path = resolve_inside(root, f"{split}2018.json")
    content = read_json(annotations_path, dict)
    images = _entries(content, "images", ("id", "file_name"), annotations_path)
    if not images:
        raise DatasetError(annotations_path, "lists no images")
    problems: list[str] = []
    categories = _categories(content, annotations_path, root, problems)
    labels = _labels(content, annotations_path, {category_id: index for index, (category_id, _) in enumerate(categories)})
    locations_file, locations = _split_locations(root, split, [image["id"] for image in images], problems)
    source = locations_file or annotations_path

    columns: dict[str, list] = {key: [] for key in ("image", "lon", "lat", "label", "timestamp", "site_id")}
    image_ids, uncertainty, missing = [], [], []
    for image in images:
        where = f"image id {image['id']}"
        location = locations.get(image["id"], {})
        lon = parse_number(location.get("lon"), source, where, "lon")
        lat = parse_number(location.get("lat"), source, where, "lat")
        lon, lat = checked_location(lon, lat, source, where)
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
        columns["timestamp"].append(timestamp_or_problem(location.get("date"), source, where, problems))
        columns["site_id"].append(None)
        image_ids.append(image["id"])
        uncertainty.append(parse_number(location.get("loc_uncert"), source, where, "loc_uncert"))
    if missing:
        raise DatasetError(
            annotations_path,
            f"{len(missing)} of the {len(images)} images it lists are missing on disk (first: {missing[0]})",
        )
    records = records_from_columns(**columns)
    records["image_id"] = image_ids
    records["loc_uncert"] = uncertainty
    return GeoImageDataset(f"iNat2018 {split}", root, records, [name for _, name in categories], problems)
