"""Loader for a geo CSV: columns ``path,label,lat,lon[,timestamp]`` over an image folder, as real CSVs write them.

Tolerated: header names in any case and their usual aliases (:data:`core.data.columns.COLUMN_ALIASES`:
``latitude``, ``lng``, ``class``, ``filename``, …), ``,`` ``;`` or tab delimiters (the one the header
uses), UTF-8 with or without BOM and Latin-1 files, decimal commas in ``;``/tab files, Windows ``\\``
paths and EXIF-style ``YYYY:MM:DD HH:MM:SS`` timestamps (see :mod:`core.data.timestamps`).
A bad row is named by its line number: it stops the load (``on_bad_rows="fail"``, the default), or
is left out and listed in ``dataset.problems`` (``on_bad_rows="skip"``). An unreadable timestamp is
never fatal: the time is left unknown and reported.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from core.data.base import GeoImageDataset, records_from_columns
from core.data.columns import resolve_columns
from core.data.errors import DatasetError
from core.data.fields import checked_location, parse_number, timestamp_or_problem
from core.data.paths import resolve_inside

REQUIRED_COLUMNS = ("path", "label", "lat", "lon")
OPTIONAL_COLUMNS = ("timestamp",)
#: What to do with a row that cannot be used: stop with its line number, or leave it out and report it.
BAD_ROW_CHOICES = ("fail", "skip")
DELIMITERS = (",", ";", "\t")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


def _decoded(csv_path: Path) -> str:
    """The file's text: UTF-8 (a BOM dropped), else Latin-1 (every byte string decodes as Latin-1)."""
    if not csv_path.is_file():
        raise DatasetError(csv_path, "file not found")
    data = csv_path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _delimiter(header_line: str) -> str:
    """The delimiter the header uses most (``,`` when it uses none of ``,`` ``;`` tab)."""
    return max(DELIMITERS, key=header_line.count) if any(d in header_line for d in DELIMITERS) else ","


def _read_rows(csv_path: Path) -> tuple[str, dict[str, int], list[tuple[int, list[str]]]]:
    """(delimiter, field -> column position, (line number, fields) of each non-blank row)."""
    lines = _decoded(csv_path).splitlines(keepends=True)
    first = next((line for line in lines if line.strip()), "")
    delimiter = _delimiter(first)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        rows = [(reader.line_num, row) for row in reader if any(field.strip() for field in row)]
    except csv.Error as exc:
        raise DatasetError(csv_path, f"line {reader.line_num}: not readable as CSV ({exc})") from exc
    if not rows:
        raise DatasetError(csv_path, "is empty")
    (header_line, header), rows = rows[0], rows[1:]
    try:
        positions = resolve_columns(header, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    except ValueError as exc:
        raise DatasetError(csv_path, f"line {header_line}: {exc}") from exc
    return delimiter, positions, rows


class _MissingImage(DatasetError):
    """A row whose image file does not exist (counted over the whole file before failing)."""

    def __init__(self, csv_path: Path, where: str, relative: str, root: Path) -> None:
        super().__init__(csv_path, f"{where}: image {relative} not found under {root}")
        self.where, self.relative = where, relative


def _number(text: str, delimiter: str, csv_path: Path, where: str, what: str) -> float:
    """:func:`parse_number`, accepting a decimal comma where commas do not separate fields."""
    if delimiter != "," and _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    return parse_number(text, csv_path, where, what)


def load_geo_csv(csv_path: str | Path, image_root: str | Path | None = None, on_bad_rows: str = "fail") -> GeoImageDataset:
    """Load a CSV of (path, label, lat, lon[, timestamp]); image paths are relative to ``image_root``.

    ``image_root`` defaults to the CSV's folder. Class names are the sorted unique labels of the
    rows used; an empty label means unlabelled (-1) and empty lat and lon an unknown location.
    ``on_bad_rows`` is ``"fail"`` (an error naming the line) or ``"skip"`` (the row is reported in
    ``problems`` and left out). Errors name the line.
    """
    csv_path = Path(csv_path).resolve()
    if on_bad_rows not in BAD_ROW_CHOICES:
        raise DatasetError(csv_path, f"on_bad_rows must be one of {', '.join(BAD_ROW_CHOICES)}, got {on_bad_rows!r}")
    root = Path(image_root).resolve() if image_root is not None else csv_path.parent
    delimiter, positions, rows = _read_rows(csv_path)
    if not rows:
        raise DatasetError(csv_path, "has a header but no rows")

    used: list[tuple[str, float, float, str, object]] = []
    problems: list[str] = []
    missing: list[_MissingImage] = []
    for line, fields in rows:
        where = f"line {line}"
        try:
            used.append(_row(fields, positions, delimiter, root, csv_path, where, problems))
        except _MissingImage as exc:
            missing.append(exc)
            problems.append(f"{csv_path.name}: {exc.problem}; row left out")
        except DatasetError as exc:
            if on_bad_rows == "fail":
                raise
            problems.append(f"{csv_path.name}: {exc.problem}; row left out")
    if missing and on_bad_rows == "fail":
        first = missing[0]
        raise DatasetError(csv_path, f"{len(missing)} image(s) not found under {root} (first: {first.where}, {first.relative})")
    if not used:
        raise DatasetError(csv_path, f"none of its {len(rows)} rows can be used ({'; '.join(problems[:3])})")
    class_names = sorted({label for *_, label, _ in used if label})
    index_of = {name: index for index, name in enumerate(class_names)}
    records = records_from_columns(
        image=[relative for relative, *_ in used],
        lon=[lon for _, lon, *_ in used],
        lat=[lat for _, _, lat, *_ in used],
        label=[index_of.get(label, -1) for *_, label, _ in used],
        timestamp=[timestamp for *_, timestamp in used],
        site_id=[None] * len(used),
    )
    return GeoImageDataset(csv_path.stem, root, records, class_names, problems)


def _row(
    fields: list[str], positions: dict[str, int], delimiter: str, root: Path, csv_path: Path, where: str, problems: list[str]
) -> tuple[str, float, float, str, object]:
    """(image path, lon, lat, label, timestamp) of one row; DatasetError naming ``where`` when it cannot be used."""
    if len(fields) <= max(positions[name] for name in REQUIRED_COLUMNS):
        raise DatasetError(csv_path, f"{where}: has fewer fields than the header")
    value = {name: fields[position].strip() if position < len(fields) else "" for name, position in positions.items()}
    relative = value["path"].replace("\\", "/")
    if not relative:
        raise DatasetError(csv_path, f"{where}: the path is empty")
    try:
        image = resolve_inside(root, relative)
    except DatasetError as exc:
        raise DatasetError(csv_path, f"{where}: {exc.problem} ({relative})") from exc
    if not image.is_file():
        raise _MissingImage(csv_path, where, relative, root)
    lon = _number(value["lon"], delimiter, csv_path, where, "lon")
    lat = _number(value["lat"], delimiter, csv_path, where, "lat")
    lon, lat = checked_location(lon, lat, csv_path, where)
    timestamp = timestamp_or_problem(value.get("timestamp"), csv_path, where, problems)
    return relative, lon, lat, value["label"], timestamp
