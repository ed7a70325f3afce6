"""Loader for GeoImageNet as the geography-aware SSL downloader writes it (Ayush et al., ICCV 2021).

The downloader (github.com/sustainlab-group/geography-aware-ssl, ``geoimagenet_downloader/``) keeps
only Flickr photos whose location Flickr returns, and writes under its ``-data_root``::

    imagenet_images/{class name, spaces as _}/{flickr photo id}.jpg    (resized to 224×224)
    metadata.csv    headerless rows id,lat,lon,locality,country,region,county (UTF-8, appended per photo)

``lat``/``lon`` are ``-1000`` where Flickr gave none: such a record has an unknown (NaN) location.
A photo may sit in several class folders (one metadata row serves all); reruns append repeated rows.
A photo without a metadata row (a run killed between the two writes) is skipped and reported in
``dataset.problems``. Photos: Flickr licences of their owners; ImageNet terms of access.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from core.data.base import GeoImageDataset, records_from_columns
from core.data.errors import DatasetError
from core.data.fields import checked_location, parse_number
from core.data.paths import resolve_inside

#: The columns of ``metadata.csv``, in the downloader's order (the file has no header).
METADATA_FIELDS = ("id", "lat", "lon", "locality", "country", "region", "county")
#: The downloader's value for a coordinate Flickr did not return.
MISSING_COORDINATE = -1000.0
IMAGES_FOLDER = "imagenet_images"
METADATA_FILE = "metadata.csv"


def _coordinate(text: str, path: Path, where: str, what: str) -> float:
    value = parse_number(text, path, where, what)
    return math.nan if value == MISSING_COORDINATE else value


def _read_metadata(path: Path) -> dict[str, tuple[float, float, dict[str, str]]]:
    """flickr id -> (lon, lat, place fields) from the headerless ``metadata.csv``; errors name the line."""
    if not path.is_file():
        raise DatasetError(path, "file not found: the GeoImageNet downloader writes it beside imagenet_images/")
    rows: dict[str, tuple[float, float, dict[str, str]]] = {}
    first_line: dict[str, int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for fields in reader:
                line = reader.line_num
                if not fields or (line == 1 and fields[0].strip().lower() == "id"):
                    continue  # a blank line, or a header someone added
                if len(fields) != len(METADATA_FIELDS):
                    raise DatasetError(
                        path, f"line {line}: expected {len(METADATA_FIELDS)} fields {','.join(METADATA_FIELDS)}, found {len(fields)}"
                    )
                flickr_id = fields[0].strip()
                if not flickr_id.isdigit():
                    raise DatasetError(path, f"line {line}: id {flickr_id!r} is not a Flickr photo id (digits)")
                where = f"line {line}"
                lat = _coordinate(fields[1], path, where, "lat")
                lon = _coordinate(fields[2], path, where, "lon")
                if math.isnan(lat) or math.isnan(lon):
                    lon = lat = math.nan
                lon, lat = checked_location(lon, lat, path, where)
                places = dict(zip(METADATA_FIELDS[3:], (field.strip() for field in fields[3:])))
                row = (lon, lat, places)
                if flickr_id in rows and not _same_location(rows[flickr_id], row):
                    raise DatasetError(
                        path, f"line {line}: photo {flickr_id} already has another location on line {first_line[flickr_id]}"
                    )
                rows.setdefault(flickr_id, row)
                first_line.setdefault(flickr_id, line)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(path, f"not a readable UTF-8 CSV ({exc})") from exc
    return rows


def _same_location(a: tuple, b: tuple) -> bool:
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a[:2], b[:2]))


def _class_photos(images_dir: Path) -> list[tuple[str, list[Path]]]:
    """(class folder, its photos) under ``imagenet_images/``; anything else there raises."""
    classes = []
    for folder in sorted(p for p in images_dir.iterdir() if not p.name.startswith(".")):
        if not folder.is_dir():
            raise DatasetError(folder, f"expected only class folders in {IMAGES_FOLDER}/ (<class>/<flickr id>.jpg)")
        photos = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        for photo in photos:
            if not (photo.is_file() and photo.suffix == ".jpg" and photo.stem.isdigit()):
                raise DatasetError(photo, "GeoImageNet photos are named <flickr photo id>.jpg")
        classes.append((folder.name, photos))
    return classes


def load_geoimagenet(root: str | Path) -> GeoImageDataset:
    """Load the downloader's output under ``root``: one record per photo, its class folder the label.

    Class names are the folder names with ``_`` read as spaces (as the downloader names them).
    """
    root = Path(root).resolve()
    images_dir = resolve_inside(root, IMAGES_FOLDER)
    if not images_dir.is_dir():
        raise DatasetError(images_dir, "folder not found: the GeoImageNet downloader writes <class>/<flickr id>.jpg here")
    metadata_path = resolve_inside(root, METADATA_FILE)
    metadata = _read_metadata(metadata_path)
    classes = _class_photos(images_dir)
    columns: dict[str, list] = {key: [] for key in ("image", "lon", "lat", "label", "timestamp", "site_id")}
    places: dict[str, list] = {key: [] for key in ("flickr_id", *METADATA_FIELDS[3:])}
    problems = []
    for label, (_, photos) in enumerate(classes):
        for photo in photos:
            relative = photo.relative_to(root).as_posix()
            if photo.stem not in metadata:
                problems.append(f"{relative}: no row for photo {photo.stem} in {METADATA_FILE}")
                continue
            lon, lat, place = metadata[photo.stem]
            columns["image"].append(relative)
            columns["lon"].append(lon)
            columns["lat"].append(lat)
            columns["label"].append(label)
            columns["timestamp"].append(None)
            columns["site_id"].append(None)
            places["flickr_id"].append(photo.stem)
            for key in METADATA_FIELDS[3:]:
                places[key].append(place[key])
    if not columns["image"]:
        found = f"none of the {len(problems)} photos has a row in {METADATA_FILE}" if problems else "no photos"
        raise DatasetError(images_dir, f"{found} (<class>/<flickr id>.jpg listed in {METADATA_FILE})")
    records = records_from_columns(**columns)
    for key, values in places.items():
        records[key] = values
    class_names = [folder.replace("_", " ") for folder, _ in classes]
    return GeoImageDataset(f"GeoImageNet {root.name}", root, records, class_names, problems)
