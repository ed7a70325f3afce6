"""Loader for a GeoImageNet-style CSV: header ``path,label,lat,lon[,timestamp]`` over an image folder."""

from __future__ import annotations

import csv
from pathlib import Path

from core.data.base import GeoImageDataset, records_from_columns
from core.data.errors import DatasetError
from core.data.fields import checked_location, parse_number, parse_timestamp
from core.data.paths import resolve_inside

REQUIRED_COLUMNS = ("path", "label", "lat", "lon")


def _read_rows(csv_path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of the CSV; a missing file, bad encoding or missing column raises."""
    if not csv_path.is_file():
        raise DatasetError(csv_path, "file not found")
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                found = ", ".join(header) or "nothing"
                lacking = ", ".join(missing)
                raise DatasetError(csv_path, f"line 1: the header lacks column(s) {lacking} (found: {found})")
            reader.fieldnames = header
            return [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(csv_path, f"not a readable UTF-8 CSV ({exc})") from exc


def load_geo_csv(csv_path: str | Path, image_root: str | Path | None = None) -> GeoImageDataset:
    """Load a CSV of (path, label, lat, lon[, timestamp]); image paths are relative to ``image_root``.

    ``image_root`` defaults to the CSV's folder. Class names are the sorted unique labels; an empty
    label means unlabelled (-1) and empty lat and lon mean an unknown location. Errors name the line.
    """
    csv_path = Path(csv_path).resolve()
    root = Path(image_root).resolve() if image_root is not None else csv_path.parent
    rows = _read_rows(csv_path)
    if not rows:
        raise DatasetError(csv_path, "has a header but no rows")
    class_names = sorted({row["label"].strip() for _, row in rows if row["label"] and row["label"].strip()})
    index_of = {name: index for index, name in enumerate(class_names)}

    columns: dict[str, list] = {key: [] for key in ("image", "lon", "lat", "label", "timestamp", "site_id")}
    missing = []
    for line, row in rows:
        where = f"line {line}"
        if any(row.get(name) is None for name in REQUIRED_COLUMNS):
            raise DatasetError(csv_path, f"{where}: has fewer fields than the header")
        relative = row["path"].strip()
        if not relative:
            raise DatasetError(csv_path, f"{where}: the path is empty")
        try:
            image = resolve_inside(root, relative)
        except DatasetError as exc:
            raise DatasetError(csv_path, f"{where}: {exc.problem} ({relative})") from exc
        if not image.is_file():
            missing.append((line, relative))
        lon = parse_number(row["lon"], csv_path, where, "lon")
        lat = parse_number(row["lat"], csv_path, where, "lat")
        lon, lat = checked_location(lon, lat, csv_path, where)
        columns["image"].append(relative)
        columns["lon"].append(lon)
        columns["lat"].append(lat)
        columns["label"].append(index_of.get(row["label"].strip(), -1))
        columns["timestamp"].append(parse_timestamp(row.get("timestamp"), csv_path, where))
        columns["site_id"].append(None)
    if missing:
        line, relative = missing[0]
        raise DatasetError(
            csv_path, f"{len(missing)} image(s) not found under {root} (first: line {line}, {relative})"
        )
    return GeoImageDataset(csv_path.stem, root, records_from_columns(**columns), class_names)
