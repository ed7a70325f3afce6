"""Bring your own probe task: a CSV of points and a target, e.g. ``lon,lat,target`` or ``lat,lon,value``.

Columns are found by header name, case-insensitively: longitude as any of :data:`LON_ALIASES`, latitude as
any of :data:`LAT_ALIASES`, the target as ``target_column`` (default: a column named ``target``, else the
only other column). Delimiters ``,`` ``;`` tab and ``|`` are recognised. Rows with an empty target are
skipped; an empty, non-numeric or out-of-range coordinate is an error naming its line.

Regression or classification is inferred (``kind=None``): a target that is not numeric, or numeric with
only integer values and at most :data:`MAX_INFERRED_CLASSES` distinct ones, is a class label; any other
is a regression target. ``kind`` overrides it.

The header aliases are a minimal resolver of this module's own; the dataset CSV loader
(:mod:`core.data.csv_dataset`) is to share one with it.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from core.data.errors import DatasetError
from core.data.fields import checked_location, parse_number
from core.probes.tasks import KINDS, ProbeTask, TaskKind

LON_ALIASES = ("lon", "lng", "long", "longitude", "x")
LAT_ALIASES = ("lat", "latitude", "y")
MIN_POINTS = 50
MAX_INFERRED_CLASSES = 20
MAX_BYTES = 50 * 2**20


class ProbeTaskError(DatasetError):
    """A CSV that cannot be a probe task; the message names the file, and the line or column at fault."""


def _column(header: list[str], aliases: tuple[str, ...], what: str, where: str) -> str:
    found = [name for name in header if name.strip().lower() in aliases]
    if len(found) > 1:
        raise ProbeTaskError(where, f"several {what} columns ({', '.join(found)}); keep one")
    if not found:
        raise ProbeTaskError(where, f"missing a {what} column (one of {', '.join(aliases)}); the header has: {', '.join(header) or 'nothing'}")
    return found[0]


def _target_column(header: list[str], coordinates: tuple[str, str], requested: str | None, where: str) -> str:
    if requested is not None:
        if requested not in header:
            raise ProbeTaskError(where, f"missing the target column {requested!r}; the header has: {', '.join(header)}")
        return requested
    named = [name for name in header if name.strip().lower() == "target"]
    others = [name for name in header if name not in coordinates]
    if named:
        return named[0]
    if len(others) == 1:
        return others[0]
    raise ProbeTaskError(
        where, f"missing a target column: name it 'target' or choose one of {', '.join(others) or '(no other column)'}"
    )


def _text(source: str | Path | bytes, where: str) -> str:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ProbeTaskError(where, "file not found")
        data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise ProbeTaskError(where, f"is {len(data) / 2**20:.0f} MiB; a probe task CSV may be at most {MAX_BYTES // 2**20} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProbeTaskError(where, f"not UTF-8 text ({error})") from None


def _infer_kind(values: list[str]) -> TaskKind:
    try:
        numbers = np.array([float(value) for value in values])
    except ValueError:
        return "classification"
    integral = np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers))
    return "classification" if integral and len(np.unique(numbers)) <= MAX_INFERRED_CLASSES else "regression"


def read_task_csv(
    source: str | Path | bytes, name: str | None = None, kind: TaskKind | None = None, target_column: str | None = None
) -> ProbeTask:
    """A :class:`ProbeTask` from a CSV file (path) or its content (bytes, e.g. an upload; ``name`` then labels it).

    Raises :class:`ProbeTaskError` for missing columns, bad rows, fewer than :data:`MIN_POINTS` points,
    a constant target, or a non-numeric target asked to be a regression.
    """
    where = name or (Path(source).name if not isinstance(source, bytes) else "uploaded CSV")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None (inferred), got {kind!r}")
    text = _text(source, where)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [column.strip() for column in reader.fieldnames or []]
    reader.fieldnames = header
    lon_column, lat_column = _column(header, LON_ALIASES, "longitude", where), _column(header, LAT_ALIASES, "latitude", where)
    target = _target_column(header, (lon_column, lat_column), target_column, where)

    lonlat, values = [], []
    try:
        for row in reader:
            line = f"line {reader.line_num}"
            value = (row.get(target) or "").strip()
            if not value:
                continue
            lon = parse_number(row.get(lon_column), where, line, "longitude")
            lat = parse_number(row.get(lat_column), where, line, "latitude")
            if math.isnan(lon) or math.isnan(lat):
                raise ProbeTaskError(where, f"{line}: the location is empty")
            lonlat.append(checked_location(lon, lat, where, line))
            values.append(value)
    except csv.Error as error:
        raise ProbeTaskError(where, f"not a readable CSV ({error})") from None
    except DatasetError as error:
        raise ProbeTaskError(where, error.problem) from None
    return _task(name or Path(where).stem, lonlat, values, kind, where)


def _task(name: str, lonlat: list[tuple[float, float]], values: list[str], kind: TaskKind | None, where: str) -> ProbeTask:
    if len(values) < MIN_POINTS:
        raise ProbeTaskError(where, f"has {len(values)} point(s) with a target; a probe needs at least {MIN_POINTS}")
    if len(set(values)) < 2:
        raise ProbeTaskError(where, f"the target is constant ({values[0]!r} everywhere): there is nothing to predict")
    kind = kind or _infer_kind(values)
    points = np.array(lonlat, dtype=np.float64)
    if kind == "regression":
        try:
            target = np.array([float(value) for value in values])
        except ValueError:
            bad = next(value for value in values if not _is_number(value))
            raise ProbeTaskError(where, f"a regression target must be numeric, found {bad!r}; use classification") from None
        if not np.all(np.isfinite(target)):
            raise ProbeTaskError(where, "the target has non-finite values (nan or inf)")
        if np.ptp(target) == 0:
            raise ProbeTaskError(where, "the target is constant: there is nothing to predict")
        return ProbeTask(name, kind, points, target, description=f"regression target from {where}")
    class_names, index = np.unique(np.array(values), return_inverse=True)
    return ProbeTask(name, kind, points, index.astype(np.int64), tuple(class_names.tolist()), f"{len(class_names)} classes from {where}")


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
