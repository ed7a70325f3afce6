"""Validating the location and time fields loaders read from dataset files (one rule for all loaders)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from core.coords import CoordinateError, validate_lonlat
from core.data import timestamps
from core.data.errors import DatasetError


def checked_location(lon: float, lat: float, path: str | Path, where: str) -> tuple[float, float]:
    """(lon, lat) in degrees after validation; ``where`` (e.g. "row 3") locates the record in ``path``.

    Both NaN means "location unknown" and is returned as is. One NaN, a longitude outside
    [-180, 180] or a latitude outside [-90, 90] raises :class:`DatasetError`.
    """
    if math.isnan(lon) and math.isnan(lat):
        return lon, lat
    if abs(lon) > 180.0:
        raise DatasetError(path, f"{where}: longitude {lon:.6g} is outside [-180, 180]")
    try:
        (checked_lon, checked_lat), = validate_lonlat(lonlat=[lon, lat])
    except CoordinateError as exc:
        raise DatasetError(path, f"{where}: {exc}") from exc
    return float(checked_lon), float(checked_lat)


def parse_number(text: object, path: str | Path, where: str, what: str) -> float:
    """A float from a file field (empty or None reads as NaN); anything else non-numeric raises."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return math.nan
    try:
        return float(text)
    except (TypeError, ValueError) as exc:
        raise DatasetError(path, f"{where}: {what} {text!r} is not a number") from exc


def parse_timestamp(text: object, path: str | Path, where: str) -> datetime | None:
    """:func:`core.data.timestamps.parse_timestamp` of a file field (naive times read as UTC, the
    convention of dataset files); an unreadable one raises :class:`DatasetError` naming ``where``."""
    try:
        value = timestamps.parse_timestamp(text)
    except ValueError as exc:
        raise DatasetError(path, f"{where}: {exc}") from exc
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def timestamp_or_problem(text: object, path: str | Path, where: str, problems: list[str]) -> datetime | None:
    """:func:`parse_timestamp`, except that an odd date is appended to ``problems`` and read as unknown (None)."""
    try:
        return parse_timestamp(text, path, where)
    except DatasetError as exc:
        problems.append(f"{Path(path).name}: {exc.problem}; its time is left unknown")
        return None


def read_json(path: Path, expected: type) -> dict | list:
    """A JSON file's content, checked to be of type ``expected``; DatasetError names the file otherwise."""
    if not path.is_file():
        raise DatasetError(path, "file not found")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(path, f"malformed JSON ({exc})") from exc
    if not isinstance(content, expected):
        names = {dict: "object", list: "array"}
        raise DatasetError(path, f"expected a JSON {names.get(expected, expected.__name__)}, found {type(content).__name__}")
    return content
