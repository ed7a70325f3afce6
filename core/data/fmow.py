"""Loader for fMoW-rgb: ``{split}/{category}/{category}_{site}/{category}_{site}_{k}_rgb.jpg`` + JSON.

Each image has a JSON beside it (same stem) with its metadata; its location is the centroid of
``raw_location`` (a WKT polygon in lon lat). The images of one site are its temporal sequence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import shapely.wkt

from core.data.base import GeoImageDataset, records_from_columns
from core.data.errors import DatasetError
from core.data.fields import checked_location, parse_timestamp, read_json
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

#: Metadata kept as extra record columns (None where a JSON lacks it).
EXTRA_FIELDS = ("gsd", "cloud_cover", "country_code", "utm", "img_width", "img_height")


def _visible_entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


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


def _read_metadata(json_path: Path) -> dict:
    metadata = read_json(json_path, dict)
    for key in ("raw_location", "timestamp"):
        if key not in metadata:
            raise DatasetError(json_path, f"missing the {key!r} field")
    return metadata


def _site_images(site_dir: Path) -> list[tuple[Path, Path]]:
    """(image, JSON) pairs of one site folder; an image without JSON or a JSON without image raises."""
    files = [p for p in _visible_entries(site_dir) if p.is_file()]
    images = {p.stem: p for p in files if p.suffix.lower() == ".jpg"}
    jsons = {p.stem: p for p in files if p.suffix.lower() == ".json"}
    for stem, image in images.items():
        if stem not in jsons:
            raise DatasetError(image, f"image without its metadata file {stem}.json")
    for stem, json_path in jsons.items():
        if stem not in images:
            raise DatasetError(json_path, f"metadata without its image {stem}.jpg")
    return [(images[stem], jsons[stem]) for stem in sorted(images)]


def load_fmow(root: str | Path, split: str = "train") -> GeoImageDataset:
    """Load the fMoW-rgb ``split`` under ``root``: one record per image, site id ``{category}_{site}``."""
    root = Path(root).resolve()
    split_dir = resolve_inside(root, split)  # a split like "../x" would read metadata outside the dataset
    if not split_dir.is_dir():
        raise DatasetError(split_dir, f"the fMoW split folder {split!r} does not exist")
    columns: dict[str, list] = {key: [] for key in ("image", "lon", "lat", "label", "timestamp", "site_id")}
    extras: dict[str, list] = {key: [] for key in EXTRA_FIELDS}
    for category_dir in (p for p in _visible_entries(split_dir) if p.is_dir()):
        if category_dir.name not in FMOW_CATEGORIES:
            raise DatasetError(category_dir, f"{category_dir.name!r} is not one of the 62 fMoW categories")
        label = FMOW_CATEGORIES.index(category_dir.name)
        for site_dir in (p for p in _visible_entries(category_dir) if p.is_dir()):
            if not site_dir.name.startswith(f"{category_dir.name}_"):
                raise DatasetError(site_dir, f"site folder should be named {category_dir.name}_<site number>")
            for image_path, json_path in _site_images(site_dir):
                metadata = _read_metadata(json_path)
                lon, lat = _centroid(metadata["raw_location"], json_path)
                columns["image"].append(image_path.relative_to(root).as_posix())
                columns["lon"].append(lon)
                columns["lat"].append(lat)
                columns["label"].append(label)
                timestamp = parse_timestamp(metadata["timestamp"], json_path, "timestamp")
                if timestamp is None:
                    raise DatasetError(json_path, "the 'timestamp' field is empty")
                columns["timestamp"].append(timestamp)
                columns["site_id"].append(site_dir.name)
                for key in EXTRA_FIELDS:
                    extras[key].append(metadata.get(key))
    if not columns["image"]:
        raise DatasetError(split_dir, "no fMoW images (<category>/<site>/*_rgb.jpg with JSON) found")
    records = records_from_columns(**columns)
    for key, values in extras.items():
        records[key] = values
    for key in ("gsd", "cloud_cover", "img_width", "img_height"):
        records[key] = pd.to_numeric(records[key], errors="coerce")
    return GeoImageDataset(f"fMoW-rgb {split}", root, records, list(FMOW_CATEGORIES))
