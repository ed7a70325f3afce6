"""Writers of test data in exactly the real on-disk formats (reusable by any test: import from here).

- photos (JPEG, PNG, HEIC, AVIF, TIFF) with EXIF GPS written by piexif: :func:`photo_bytes`,
  :func:`jpeg_with_gps_bytes`, :func:`gps_ifd`; damaged files: :func:`truncated_jpeg_bytes`,
  :func:`png_header_bytes` (a huge PNG that is only a header);
- fMoW-rgb as released (both products, challenge-era JSONs, anonymous test/seq folders, the extracted
  ground truth): :func:`write_fmow_site`, :func:`write_fmow_tree`, :func:`write_fmow_anonymous_split`,
  :func:`write_fmow_ground_truth`;
- iNat2018 JSONs and images: :func:`write_inat2018`, :data:`INAT_IMAGES`;
- GeoImageNet-style CSVs: :func:`write_geo_csv`;
- GeoImageNet as its downloader writes it (``imagenet_images/`` + headerless ``metadata.csv``):
  :func:`write_geoimagenet`, :data:`GEOIMAGENET_PHOTOS`.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
import piexif
from PIL import Image

from core.data.fmow import FMOW_PRODUCTS


def _rational(value: float, precision: int) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(precision)
    return fraction.numerator, fraction.denominator


def _dms(degrees: float) -> tuple[tuple[int, int], ...]:
    """|degrees| as EXIF (degrees, minutes, seconds) rationals, seconds to 1/10000."""
    ticks = round(abs(degrees) * 3600 * 10_000)
    whole, rest = divmod(ticks, 3600 * 10_000)
    minutes, seconds = divmod(rest, 60 * 10_000)
    return (whole, 1), (minutes, 1), (seconds, 10_000)


def gps_ifd(lat: float, lon: float, *, altitude: float | None = None, fix_time: datetime | None = None) -> dict:
    """A piexif GPS IFD for signed decimal degrees: S and W references for negative values."""
    ifd = {
        piexif.GPSIFD.GPSLatitudeRef: "S" if lat < 0 else "N",
        piexif.GPSIFD.GPSLatitude: _dms(lat),
        piexif.GPSIFD.GPSLongitudeRef: "W" if lon < 0 else "E",
        piexif.GPSIFD.GPSLongitude: _dms(lon),
    }
    if altitude is not None:
        ifd[piexif.GPSIFD.GPSAltitudeRef] = 1 if altitude < 0 else 0
        ifd[piexif.GPSIFD.GPSAltitude] = _rational(abs(altitude), 100)
    if fix_time is not None:
        ifd[piexif.GPSIFD.GPSDateStamp] = fix_time.strftime("%Y:%m:%d")
        ifd[piexif.GPSIFD.GPSTimeStamp] = ((fix_time.hour, 1), (fix_time.minute, 1), (fix_time.second, 1))
    return ifd


def altered_gps_ifd(lat: float = 10.0, lon: float = 20.0, **changes) -> dict:
    """:func:`gps_ifd` with fields replaced by name (``GPSLatitudeRef="X"``) or removed (``=None``)."""
    ifd = gps_ifd(lat, lon)
    for name, value in changes.items():
        if value is None:
            del ifd[getattr(piexif.GPSIFD, name)]
        else:
            ifd[getattr(piexif.GPSIFD, name)] = value
    return ifd


def photo_bytes(
    fmt: str = "JPEG",
    *,
    gps: dict | None = None,
    capture_time: datetime | None = None,
    capture_offset: str | None = None,
    orientation: int | None = None,
    size: tuple[int, int] = (48, 32),
    mode: str = "RGB",
    color: int | tuple[int, ...] = (200, 80, 40),
) -> bytes:
    """An encoded image (any Pillow/pillow-heif format) with the given EXIF GPS IFD, capture time (local,
    DateTimeOriginal) and its zone (OffsetTimeOriginal, e.g. ``"+09:00"``), orientation."""
    import pillow_heif

    pillow_heif.register_heif_opener()  # lets Pillow write HEIF
    exif = {"0th": {}, "Exif": {}, "GPS": gps or {}}
    if orientation is not None:
        exif["0th"][piexif.ImageIFD.Orientation] = orientation
    if capture_time is not None:
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = capture_time.strftime("%Y:%m:%d %H:%M:%S")
    if capture_offset is not None:
        exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = capture_offset
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, exif=piexif.dump(exif))
    return buffer.getvalue()


def jpeg_with_gps_bytes(
    lat: float, lon: float, *, altitude: float | None = None, fix_time: datetime | None = None, **photo_options
) -> bytes:
    """A JPEG geotagged at (lat, lon); ``photo_options`` go to :func:`photo_bytes`."""
    return photo_bytes("JPEG", gps=gps_ifd(lat, lon, altitude=altitude, fix_time=fix_time), **photo_options)


def noise_jpeg_bytes(size: tuple[int, int] = (256, 256), seed: int = 0, gps: dict | None = None) -> bytes:
    """A JPEG of random pixels (a few tens of kB, so cutting it leaves the header intact), optionally geotagged."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90, exif=piexif.dump({"GPS": gps or {}}))
    return buffer.getvalue()


def truncated_jpeg_bytes(gps: dict | None = None) -> bytes:
    """The first half of a JPEG (optionally geotagged): a valid header, then the scan data stops."""
    data = noise_jpeg_bytes(gps=gps)
    return data[: len(data) // 2]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_bytes(width: int, height: int) -> bytes:
    """A PNG claiming ``width`` x ``height`` 1-bit pixels with (almost) no pixel data: a bomb's header."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- fMoW-rgb -------------------------------------------------------------------------------------


def square_wkt(lon: float, lat: float, half: float = 0.002) -> str:
    """A WKT POLYGON (lon lat order, closed ring) centred on (lon, lat)."""
    corners = [(lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half), (lon - half, lat + half)]
    ring = ", ".join(f"{x:.6f} {y:.6f}" for x, y in corners + corners[:1])
    return f"POLYGON (({ring}))"


#: The labelled object's box ``[x, y, width, height]`` in the fixture's images, per product (msrgb is half size).
FMOW_BOXES = {"rgb": [12, 10, 24, 16], "msrgb": [6, 5, 12, 8]}
FMOW_IMAGE_SIZES = {"rgb": (48, 32), "msrgb": (24, 16)}


def fmow_metadata(category: str, lon: float, lat: float, timestamp: str, product: str = "rgb", **overrides) -> dict:
    """One fMoW-rgb image's JSON content with its GPS, as in the ground truth (fields overridable)."""
    width, height = FMOW_IMAGE_SIZES[product]
    metadata = {
        "bounding_boxes": [{"category": category, "box": FMOW_BOXES[product], "ID": 1}],
        "gsd": 0.52 if product == "rgb" else 2.08,
        "img_width": width,
        "img_height": height,
        "timestamp": timestamp,
        "raw_location": square_wkt(lon, lat),
        "country_code": "USA",
        "cloud_cover": 3,
        "utm": "17S",
        "scan_direction": "FORWARD",
        "off_nadir_angle_dbl": 18.4,
    }
    metadata.update(overrides)
    return metadata


def challenge_metadata(metadata: dict, *, anonymous: bool) -> dict:
    """``metadata`` as the challenge-era release has it: GPS stripped; test/seq boxes without categories."""
    stripped = {key: value for key, value in metadata.items() if key != "raw_location"}
    if anonymous:
        stripped["bounding_boxes"] = [{"box": box["box"], "ID": box["ID"]} for box in metadata["bounding_boxes"]]
    return stripped


def ground_truth_metadata(metadata: dict) -> dict:
    """``metadata`` as the ground-truth archive has it: a first box with ID -1, then the scored boxes."""
    x, y, width, height = metadata["bounding_boxes"][0]["box"]
    reference = {"category": metadata["bounding_boxes"][0].get("category"), "box": [x + 1, y + 1, width - 2, height - 2], "ID": -1}
    return {**metadata, "bounding_boxes": [reference, *metadata["bounding_boxes"]]}


def write_fmow_site(
    root: Path,
    split: str,
    category: str,
    site: int,
    lon: float,
    lat: float,
    timestamps: list[str],
    *,
    anonymous_id: str | None = None,
    gps: bool = True,
    **overrides,
) -> list[Path]:
    """Write one site, both products (``_rgb`` and ``_msrgb`` JPEG + JSON) per timestamp; returns the rgb images.

    ``anonymous_id`` writes it as a test/seq folder ``{split}/{id}/{id}_{k}_{product}``; ``gps=False``
    writes challenge-era JSONs (no ``raw_location``; no categories in anonymous folders).
    """
    name = anonymous_id or f"{category}_{site}"
    site_dir = root / split / (anonymous_id or f"{category}/{name}")
    images = []
    for k, timestamp in enumerate(timestamps):
        for product in FMOW_PRODUCTS:
            stem = site_dir / f"{name}_{k}_{product}"
            pixels = photo_bytes(size=FMOW_IMAGE_SIZES[product], color=(40 * k % 256, 90, 160))
            image = write_file(stem.with_suffix(".jpg"), pixels)
            metadata = fmow_metadata(category, lon, lat, timestamp, product, **overrides)
            if not gps:
                metadata = challenge_metadata(metadata, anonymous=anonymous_id is not None)
            write_file(stem.with_suffix(".json"), json.dumps(metadata).encode())
            if product == "rgb":
                images.append(image)
    return images


def write_fmow_ground_truth(gt_root: Path, split: str, sites: list[tuple], anonymous_ids: dict | None = None) -> None:
    """Write the extracted ``groundtruth.tar.bz2`` for ``sites``: ``{split}_gt/{category}/{site}/*.json``
    and, given ``anonymous_ids`` ((category, site) -> folder), ``{split}_gt_mapping.json``."""
    for category, site, lon, lat, timestamps in sites:
        for k, timestamp in enumerate(timestamps):
            for product in FMOW_PRODUCTS:
                metadata = ground_truth_metadata(fmow_metadata(category, lon, lat, timestamp, product))
                path = gt_root / f"{split}_gt/{category}/{category}_{site}/{category}_{site}_{k}_{product}.json"
                write_file(path, json.dumps(metadata).encode())
    if anonymous_ids is not None:
        mapping = [
            {"input": f"{split}_gt/{category}/{category}_{site}", "output": f"{split}/{anonymous_ids[category, site]}"}
            for category, site, *_ in sites
        ]
        write_file(gt_root / f"{split}_gt_mapping.json", json.dumps(mapping).encode())


#: (category, site, lon, lat, timestamps in k order — deliberately not chronological)
FMOW_SITES = [
    ("airport", 0, -84.4277, 33.6407, ["2016-05-01T15:10:00Z", "2014-03-02T16:00:00Z", "2015-07-09T10:20:30Z"]),
    ("airport", 7, 139.7798, 35.5494, ["2017-01-01T02:00:00Z", "2012-11-30T01:00:00Z"]),
    ("zoo", 3, -0.1553, 51.5353, ["2013-06-15T11:00:00Z"]),
    ("wind_farm", 12, 151.2093, -33.8688, ["2015-01-01T00:00:00+00:00", "2016-01-01T00:00:00+00:00"]),
]


def write_fmow_tree(root: Path, split: str = "train", *, gps: bool = True) -> list[tuple]:
    """Write :data:`FMOW_SITES` as an fMoW-rgb ``split`` (category folders); returns the sites written."""
    for category, site, lon, lat, timestamps in FMOW_SITES:
        write_fmow_site(root, split, category, site, lon, lat, timestamps, gps=gps)
    return FMOW_SITES


def write_fmow_anonymous_split(root: Path, split: str = "test") -> dict[tuple[str, int], str]:
    """Write :data:`FMOW_SITES` as the challenge released ``test``/``seq``: anonymous 7-digit folders,
    GPS and categories stripped, with the ground truth extracted in ``root``; returns the folder names."""
    anonymous_ids = {(category, site): f"{11978 + 31 * n:07d}" for n, (category, site, *_) in enumerate(FMOW_SITES)}
    for category, site, lon, lat, timestamps in FMOW_SITES:
        write_fmow_site(root, split, category, site, lon, lat, timestamps, anonymous_id=anonymous_ids[category, site], gps=False)
    write_fmow_ground_truth(root, split, FMOW_SITES, anonymous_ids)
    return anonymous_ids


# --- iNat2018 -------------------------------------------------------------------------------------

#: category id -> name; ids deliberately not contiguous nor in order.
INAT_CATEGORIES = {17: "Danaus plexippus", 5: "Quercus robur", 230: "Bufo bufo"}

#: (image id, file name, category id, lat, lon, date); None lat/lon as in the real locations file.
INAT_IMAGES = [
    (101, "train_val2018/Insecta/17/a1.jpg", 17, 19.6, -100.3, "2017-02-11 15:32:00+00:00"),
    (102, "train_val2018/Insecta/17/a2.jpg", 17, None, None, "2016-08-01 00:00:00+00:00"),
    (103, "train_val2018/Plantae/5/b1.jpg", 5, 51.75, -1.25, None),
    (104, "train_val2018/Amphibia/230/c1.jpg", 230, -12.5, 130.9, "2015-04-03 09:00:00+00:00"),
]


#: Test-split images: the images only, no labels, no public locations.
INAT_TEST_IMAGES = [(901, "test2018/0a1b2c.jpg"), (902, "test2018/3d4e5f.jpg")]

_TAXON_RANKS = ("supercategory", "kingdom", "phylum", "class", "order", "family", "genus")


def write_inat2018(
    root: Path,
    split: str = "train",
    images: list[tuple] = INAT_IMAGES,
    categories: dict[int, str] = INAT_CATEGORIES,
    write_images: bool = True,
    official: bool = True,
) -> None:
    """Write iNat2018 ``split`` as the official archives unpack, and (optionally) the images.

    ``official``: ``{split}2018.json`` with obfuscated category names (numbers, as in the competition
    files), the real names in ``categories.json``, locations in ``inat2018_locations/``. Otherwise the
    simplified layout: real names in ``{split}2018.json`` and the locations file beside it.
    For ``split="test"`` pass ``INAT_TEST_IMAGES``: no annotations and no locations file, as published.
    """
    root.mkdir(parents=True, exist_ok=True)
    taxonomy = {rank: "Life" for rank in _TAXON_RANKS}
    coco = {
        "info": {"year": 2018, "version": "1.0", "description": "iNaturalist 2018"},
        "images": [{"id": i, "file_name": name, "width": 48, "height": 32, "license": 3} for i, name, *_ in images],
        "categories": [
            {"id": c, "name": str(c) if official else name, **{rank: str(n) for n, rank in enumerate(_TAXON_RANKS)}}
            for c, name in categories.items()
        ],
    }
    if split != "test":
        coco["annotations"] = [{"id": n, "image_id": i, "category_id": c} for n, (i, _, c, *_) in enumerate(images)]
        locations = [
            {"id": i, "lat": lat, "lon": lon, "date": date, "loc_uncert": None if lat is None else 25}
            for i, _, _, lat, lon, date in images
        ]
        locations_folder = root / "inat2018_locations" if official else root
        locations_folder.mkdir(exist_ok=True)
        (locations_folder / f"{split}2018_locations.json").write_text(json.dumps(locations))
    (root / f"{split}2018.json").write_text(json.dumps(coco))
    if official:
        names = [{"id": c, "name": name, **taxonomy} for c, name in categories.items()]
        (root / "categories.json").write_text(json.dumps(names))
    if write_images:
        for _, name, *_ in images:
            write_file(root / name, photo_bytes())


# --- GeoImageNet-style CSV ------------------------------------------------------------------------

CSV_ROWS = [
    {"path": "images/n01/cat_1.jpg", "label": "tabby", "lat": "48.8566", "lon": "2.3522",
     "timestamp": "2019-04-01T12:00:00"},
    {"path": "images/n01/cat_2.jpg", "label": "tabby", "lat": "-34.6037", "lon": "-58.3816", "timestamp": ""},
    {"path": "images/n02/dog.jpg", "label": "beagle", "lat": "35.6762", "lon": "139.6503", "timestamp": "2020-01-05"},
]


def write_geo_csv(
    csv_path: Path, rows: list[dict] = CSV_ROWS, image_root: Path | None = None, write_images: bool = True
) -> Path:
    """Write a CSV with a header of ``rows``' keys and (optionally) each row's image under ``image_root``."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if write_images:
        for row in rows:
            write_file((image_root or csv_path.parent) / row["path"], photo_bytes())
    return csv_path


# --- GeoImageNet (the geography-aware SSL downloader's output) --------------------------------------

#: (class name, flickr id, lat, lon, locality, country, region, county) as the downloader writes them:
#: Flickr's coordinates as text, -1000.0 where Flickr gave none, place names that may hold commas.
GEOIMAGENET_PHOTOS = [
    ("great white shark", 4156735981, "36.600200", "-121.894700", "Monterey", "United States", "California", "Monterey"),
    ("great white shark", 2398715123, -1000.0, -1000.0, "", "", "", ""),
    ("tench", 5093422113, "52.205300", "0.121800", "Cambridge, Newnham", "United Kingdom", "England", "Cambridgeshire"),
    ("goldfish", 318855412, "-33.868800", "151.209300", "Sydney", "Australia", "New South Wales", ""),
]


def write_geoimagenet(root: Path, photos: list[tuple] = GEOIMAGENET_PHOTOS, write_images: bool = True) -> Path:
    """Write the downloader's ``-data_root``: ``imagenet_images/<class, spaces as _>/<flickr id>.jpg``
    (224×224) and ``metadata.csv`` appended one headerless row per photo (the first row twice, as a rerun does)."""
    fields = ["id", "lat", "lon", "locality", "country", "region", "county"]
    root.mkdir(parents=True, exist_ok=True)
    with (root / "metadata.csv").open("a+", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        for photo in [*photos, *photos[:1]]:
            class_name, flickr_id, *values = photo
            if write_images:
                write_file(root / "imagenet_images" / class_name.replace(" ", "_") / f"{flickr_id}.jpg", photo_bytes(size=(224, 224)))
            writer.writerow(dict(zip(fields, [flickr_id, *values])))
    return root
