"""Bad rows: coordinates that are missing, not numbers, a latitude outside [-90, 90] or a longitude outside
[-360, 360] (longitudes within it, e.g. 0-360 data or a shape drawn across the antimeridian, are wrapped to
[-180, 180) as everywhere in the library; beyond it they are garbage, not another convention).

Bad rows are never embedded: each is listed with its row number (0-based, in the input's order) and a reason,
then either skipped or the run fails (:class:`BadRowsError`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How many bad rows an error message lists, and a report keeps (the rest are counted).
LISTED_IN_ERROR = 10
LISTED_IN_REPORT = 1000
#: Longitudes beyond this (degrees, either sign) are bad rows; those within it are wrapped.
MAX_LONGITUDE = 360.0


@dataclass(frozen=True)
class BadRow:
    """Row ``row`` (0-based) of the input, and why it was not embedded."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


class BadRowsError(ValueError):
    """``--on-bad-rows fail`` met rows that cannot be embedded; the message lists the first of them."""

    def __init__(self, bad: list[BadRow], count: int | None = None) -> None:
        count = len(bad) if count is None else count
        shown = "; ".join(map(str, bad[:LISTED_IN_ERROR]))
        more = f" (and {count - LISTED_IN_ERROR:,} more)" if count > LISTED_IN_ERROR else ""
        super().__init__(f"{count:,} row(s) cannot be embedded: {shown}{more}; nothing was written (--on-bad-rows skip leaves them out)")
        self.bad_rows = bad


def _reason(lon: float, lat: float) -> str:
    if np.isnan(lon) and np.isnan(lat):
        return "no coordinates (an empty geometry or blank/non-numeric cells)"
    name, value, limit = ("longitude", lon, MAX_LONGITUDE) if not abs(lon) <= MAX_LONGITUDE else ("latitude", lat, 90.0)
    return f"{name} is blank or not a number" if np.isnan(value) else f"{name} {value:g} is outside [-{limit:g}, {limit:g}]"


def check_rows(lonlat: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, list[BadRow]]:
    """(bool ``[n]``: which (lon, lat) rows are embeddable, the bad rows with their numbers from ``rows``)."""
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    good = (np.abs(lon) <= MAX_LONGITUDE) & (np.abs(lat) <= 90.0)  # NaN compares False
    bad = np.flatnonzero(~good)
    return good, [BadRow(int(rows[i]), _reason(float(lon[i]), float(lat[i]))) for i in bad.tolist()]
