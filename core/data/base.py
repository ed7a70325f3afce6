"""One interface for every geo-tagged image dataset: a table of records over a root folder.

Every loader (fMoW-rgb, iNat2018, GeoImageNet-style CSV, a photo folder, the embedded default
dataset) produces a :class:`GeoImageDataset`. Coordinates follow the library convention:
``lonlat`` is float32 ``[N, 2]`` in degrees, (lon, lat); a record without a location has NaN there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from core.data.paths import resolve_inside

#: Columns every record table has. ``image`` is a path relative to the dataset root (or None).
RECORD_COLUMNS = ("image", "lon", "lat", "label", "timestamp", "site_id")
#: Optional columns: the labelled object's pixel box ``x, y, width, height`` in the full image (fMoW's
#: ``bounding_boxes``), NaN where a record has none. Feature extraction crops it with a context margin.
CROP_COLUMNS = ("crop_x", "crop_y", "crop_w", "crop_h")
#: Optional column: the capture time on the camera's own clock (naive, zone unknown), for records whose
#: ``timestamp`` (always UTC) is unknown because the photo did not say which zone its clock was in.
LOCAL_TIME = "local_time"


@dataclass(frozen=True)
class GeoSample:
    """One record: where (lon, lat, NaN when unknown), what (label index, -1 when unlabelled), when, which site."""

    index: int
    lon: float
    lat: float
    label: int
    label_name: str | None
    timestamp: pd.Timestamp | None
    site_id: str | None
    image: str | None

    @property
    def has_location(self) -> bool:
        """True when both coordinates are known."""
        return bool(np.isfinite(self.lon) and np.isfinite(self.lat))


class GeoImageDataset:
    """Records (image path, lon, lat, label, timestamp, site id) over ``root``, with class names.

    ``problems`` lists records a loader skipped and why (for example a photo without GPS).
    """

    def __init__(
        self,
        name: str,
        root: str | Path,
        records: pd.DataFrame,
        class_names: list[str],
        problems: list[str] | None = None,
    ) -> None:
        missing = [c for c in RECORD_COLUMNS if c not in records.columns]
        if missing:
            raise ValueError(f"record table lacks columns {missing}")
        crop = [c for c in CROP_COLUMNS if c in records.columns]
        if crop and len(crop) != len(CROP_COLUMNS):
            raise ValueError(f"record table has crop columns {crop} but not all of {list(CROP_COLUMNS)}")
        self.name = name
        self.root = Path(root).resolve()
        self.records = records.reset_index(drop=True)
        self.class_names = list(class_names)
        self.problems = list(problems or [])

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> GeoSample:
        row = self.records.iloc[index]
        label = int(row["label"])
        timestamp = row["timestamp"]
        return GeoSample(
            index=int(index),
            lon=float(row["lon"]),
            lat=float(row["lat"]),
            label=label,
            label_name=self.class_names[label] if label >= 0 else None,
            timestamp=None if pd.isna(timestamp) else pd.Timestamp(timestamp),
            site_id=None if pd.isna(row["site_id"]) else str(row["site_id"]),
            image=None if pd.isna(row["image"]) else str(row["image"]),
        )

    @property
    def lonlat(self) -> np.ndarray:
        """float32 ``[N, 2]`` (lon, lat) in degrees; NaN rows where the location is unknown."""
        return self.records[["lon", "lat"]].to_numpy(dtype=np.float32)

    @property
    def labels(self) -> np.ndarray:
        """int64 ``[N]`` class indices, -1 where unlabelled."""
        return self.records["label"].to_numpy(dtype=np.int64)

    @property
    def has_location(self) -> np.ndarray:
        """bool ``[N]``: which records have a known location."""
        return np.isfinite(self.lonlat).all(axis=1)

    def image_path(self, index: int) -> Path:
        """Absolute path of a record's image, guaranteed to lie inside the dataset root."""
        relative = self.records.at[index, "image"]
        return resolve_inside(self.root, str(relative))

    def load_image(self, index: int, min_side: int | None = None) -> Image.Image:
        """The record's image as an RGB PIL image, checked with the limits of dataset files (a 52 MP
        fMoW image is fine; the stricter caps are for uploads); a JPEG is decoded reduced (1/2 … 1/8)
        where ``min_side`` pixels across its shorter side suffice. Raises :class:`core.data.images.ImageRejected`."""
        from core.data.images import decode_region, probe_dataset_file

        path = self.image_path(index)
        with probe_dataset_file(path) as image:
            return decode_region(image, (0, 0, *image.size), min_side or max(image.size), name=str(path))

    def site_members(self, index: int) -> list[int]:
        """Indices of all records of the same site as ``index`` (itself included), in timestamp order."""
        site = self.records.at[index, "site_id"]
        if pd.isna(site):
            return [int(index)]
        same = self.records.index[self.records["site_id"] == site]
        ordered = self.records.loc[same].sort_values("timestamp", kind="stable").index
        return [int(i) for i in ordered]

    def load_views(self, index: int) -> list[tuple[str, Image.Image]]:
        """Every image of the record's site (other timestamps / aligned views), labelled for display."""
        views = []
        for member in self.site_members(index):
            sample = self[member]
            caption = str(sample.timestamp.date()) if sample.timestamp is not None else Path(sample.image or "").name
            views.append((caption, self.load_image(member)))
        return views

    def class_counts(self) -> dict[str, int]:
        """Number of records per class name (unlabelled records are not counted)."""
        counts = np.bincount(self.labels[self.labels >= 0], minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, counts)}

    def fingerprint(self) -> str:
        """sha256 over the record table and class names: changes when the dataset's content changes."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.class_names).encode())
        digest.update(pd.util.hash_pandas_object(self.records.astype(str), index=False).to_numpy().tobytes())
        return digest.hexdigest()


def empty_records() -> pd.DataFrame:
    """A record table with no rows and the right column dtypes."""
    return records_from_columns(image=[], lon=[], lat=[], label=[], timestamp=[], site_id=[])


def records_from_columns(
    *,
    image: list,
    lon: list | np.ndarray,
    lat: list | np.ndarray,
    label: list | np.ndarray,
    timestamp: list | np.ndarray,
    site_id: list,
) -> pd.DataFrame:
    """Build a record table with the canonical dtypes (float lon/lat, int label, UTC timestamps)."""
    return pd.DataFrame(
        {
            "image": pd.Series(image, dtype=object),
            "lon": np.asarray(lon, dtype=np.float64),
            "lat": np.asarray(lat, dtype=np.float64),
            "label": np.asarray(label, dtype=np.int64),
            "timestamp": pd.to_datetime(pd.Series(timestamp, dtype=object), utc=True, errors="coerce"),
            "site_id": pd.Series(site_id, dtype=object),
        }
    )
