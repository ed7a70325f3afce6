"""Loader for a folder of the user's own photos, located by their EXIF GPS.

Photos in sub-folders are labelled by their first sub-folder's name; photos at the top level are
unlabelled. ``timestamp`` holds the capture time in UTC when the photo says it (GPS time, or
DateTimeOriginal with OffsetTimeOriginal); a photo with only its camera's local clock has it in
``local_time`` (naive: its zone is unknown) and no ``timestamp``. A photo that cannot be used (no GPS, nonsensical GPS, unreadable, a symlink leaving the
folder) is skipped and reported in ``dataset.problems``; only an empty or all-bad folder is an error.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from core.data.base import LOCAL_TIME, GeoImageDataset, records_from_columns
from core.data.errors import DatasetError
from core.data.exif import GpsError, GpsFix, read_capture_time, read_gps
from core.data.images import ImageRejected, decode_rgb, probe_image_bytes, read_image_file
from core.data.paths import resolve_inside

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".heic", ".heif", ".avif", ".tif", ".tiff")
#: Photos are fully decoded once at load (to catch truncated files); JPEGs at about this size.
_CHECK_SIZE = (256, 256)
_LEAVES_ROOT = "symbolic link leading outside the photo folder"


def _is_aware(moment: datetime | None) -> bool:
    return moment is not None and moment.tzinfo is not None


class _Skipped(Exception):
    """A photo to leave out, with the reason shown to the user."""


def _leaves_root(root: Path, path: Path) -> bool:
    try:
        resolve_inside(root, path.relative_to(root))
    except DatasetError:
        return True
    return False


def _photo_paths(root: Path, problems: list[str]) -> list[Path]:
    """Photo files under ``root``, hidden entries skipped.

    Symlinked folders are not followed (one inside ``root`` is walked anyway); one leading outside
    is reported in ``problems``.
    """
    photos = []
    for folder, subfolders, files in os.walk(root):
        folder = Path(folder)
        links = [folder / name for name in subfolders if (folder / name).is_symlink()]
        escaping = [link for link in links if _leaves_root(root, link)]
        problems += [f"{link.relative_to(root).as_posix()}: {_LEAVES_ROOT}" for link in escaping]
        subfolders[:] = sorted(n for n in subfolders if not n.startswith(".") and folder / n not in links)
        photos += [folder / n for n in sorted(files) if not n.startswith(".") and n.lower().endswith(PHOTO_SUFFIXES)]
    return photos


def _read_photo(root: Path, path: Path) -> tuple[GpsFix, datetime | None]:
    """The photo's GPS fix and capture time, after checking it stays inside ``root`` and decodes."""
    if _leaves_root(root, path):
        raise _Skipped(_LEAVES_ROOT)
    try:
        image = probe_image_bytes(read_image_file(path))
        fix = read_gps(image)
        if fix is None:
            raise _Skipped("no GPS position in the photo's EXIF")
        decode_rgb(image, draft_size=_CHECK_SIZE)
    except (ImageRejected, GpsError) as exc:
        raise _Skipped(exc.reason if isinstance(exc, ImageRejected) else str(exc)) from exc
    return fix, read_capture_time(image)


def load_photo_folder(root: str | Path) -> GeoImageDataset:
    """Load every JPEG/PNG/HEIC/HEIF/AVIF/TIFF under ``root`` that carries a usable EXIF GPS position."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetError(root, "the photo folder does not exist")
    problems: list[str] = []
    paths = _photo_paths(root, problems)
    if not paths:
        raise DatasetError(root, f"no photos ({', '.join(s[1:] for s in PHOTO_SUFFIXES)}) found")
    used: list[tuple[str, GpsFix, datetime | None]] = []
    for path in paths:
        relative = path.relative_to(root).as_posix()
        try:
            used.append((relative, *_read_photo(root, path)))
        except _Skipped as skipped:
            problems.append(f"{relative}: {skipped}")
    if not used:
        shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
        raise DatasetError(root, f"none of the {len(paths)} photos can be used ({shown})")
    groups = [relative.split("/")[0] if "/" in relative else None for relative, _, _ in used]
    class_names = sorted({group for group in groups if group is not None})
    records = records_from_columns(
        image=[relative for relative, _, _ in used],
        lon=[fix.lon for _, fix, _ in used],
        lat=[fix.lat for _, fix, _ in used],
        label=[class_names.index(group) if group is not None else -1 for group in groups],
        timestamp=[taken if _is_aware(taken) else None for _, _, taken in used],
        site_id=[None] * len(used),
    )
    records[LOCAL_TIME] = pd.to_datetime(pd.Series([None if _is_aware(t) else t for _, _, t in used], dtype=object))
    records["altitude_m"] = [fix.altitude_m for _, fix, _ in used]
    return GeoImageDataset(root.name, root, records, class_names, problems)
