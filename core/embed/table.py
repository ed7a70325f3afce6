"""A small points file read whole into a GeoDataFrame through the same reading and bad-row checks as
:func:`core.embed.embed_points` (the app's uploaded places)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import shapely

from core.embed.chunks import EmbedInputError
from core.embed.columns import EMBEDDED_AT
from core.embed.readers import open_points
from core.embed.report import EmbedReport


@dataclass(frozen=True)
class PointTable:
    """The embeddable rows of a points file: ``frame`` (its own columns, geometry in EPSG:4326 and
    ``embedded_at``), ``lonlat`` (float64 ``[n, 2]``, the points to embed) and the read's ``report``."""

    frame: gpd.GeoDataFrame
    lonlat: np.ndarray
    report: EmbedReport

    def notes(self) -> list[str]:
        """What reading assumed or left out, in words for the user."""
        report, notes = self.report, list(self.report.notes)
        if report.representative_points:
            notes.append(f"{report.representative_points:,} line or polygon feature(s) are placed at a representative point ({EMBEDDED_AT})")
        if report.bad_row_count:
            notes.append(f"{report.bad_row_count:,} row(s) left out ({report.listed_bad_rows()})")
        return notes


def read_points(path: str | Path) -> PointTable:
    """The rows of the points file at ``path`` that can be embedded (bad rows skipped and reported);
    :class:`EmbedInputError` when it cannot be read or no row can be embedded."""
    reader = open_points(path)
    report = EmbedReport("", str(path), "", notes=list(reader.notes))
    chunks = [report.keep_good_rows(chunk) for chunk in reader.chunks()]
    kept = [chunk for chunk in chunks if len(chunk)]
    if not kept:
        raise EmbedInputError(f"{Path(path).name}: no row has usable coordinates ({report.rows_read:,} read)")
    lonlat = np.concatenate([chunk.lonlat for chunk in kept])
    geometry = np.concatenate([chunk.geometry if chunk.geometry is not None else shapely.points(chunk.lonlat) for chunk in kept])
    attributes = pa.concat_tables([chunk.attributes for chunk in kept]).to_pandas()
    attributes[EMBEDDED_AT] = np.concatenate([chunk.embedded_at.to_numpy(zero_copy_only=False) for chunk in kept])
    report.embedded = len(lonlat)
    return PointTable(gpd.GeoDataFrame(attributes, geometry=geometry, crs="EPSG:4326"), lonlat, report)
