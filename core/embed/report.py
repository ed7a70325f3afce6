"""What an embedding run did: rows read and embedded, the bad rows, geometry handling, time and throughput."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.coords import wrap_longitude
from core.embed.checks import LISTED_IN_ERROR, LISTED_IN_REPORT, BadRow, check_rows
from core.embed.chunks import PointChunk


@dataclass
class EmbedReport:
    """The outcome of :func:`core.embed.embed_points` (or its Dask path).

    ``bad_rows`` keeps the first :data:`~core.embed.checks.LISTED_IN_REPORT` bad rows; ``bad_row_count`` counts
    them all. ``representative_points``: rows whose geometry is not a point, embedded at a representative point.
    """

    encoder: str
    points: str
    out: str
    rows_read: int = 0
    embedded: int = 0
    dim: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    bad_row_count: int = 0
    representative_points: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def points_per_second(self) -> float:
        """Rows read per second of the whole run."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def add_bad(self, bad: list[BadRow]) -> None:
        """Count ``bad`` and keep the first of them."""
        self.bad_row_count += len(bad)
        self.bad_rows.extend(bad[: max(0, LISTED_IN_REPORT - len(self.bad_rows))])

    def keep_good_rows(self, chunk: PointChunk) -> PointChunk:
        """``chunk`` without its bad rows, which this report counts and lists, longitudes wrapped to [-180, 180)."""
        good, bad = check_rows(chunk.lonlat, chunk.rows)
        self.rows_read += len(chunk)
        self.add_bad(bad)
        kept = chunk.take(good) if bad else chunk
        kept.lonlat[:, 0] = wrap_longitude(kept.lonlat[:, 0])
        self.representative_points += int(kept.representative.sum())
        return kept

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"{self.embedded:,} of {self.rows_read:,} rows embedded ({self.dim}-d) by {self.encoder} into {self.out} "
            f"in {self.seconds:.1f} s ({self.points_per_second:,.0f} points/s)"
        ]
        if self.representative_points:
            lines.append(f"{self.representative_points:,} row(s) are lines or polygons: embedded at a representative point (column embedded_at)")
        if self.bad_row_count:
            lines.append(f"{self.bad_row_count:,} bad row(s) skipped: {self.listed_bad_rows()}")
        return "\n".join([*lines, *self.notes])

    def listed_bad_rows(self) -> str:
        """The first bad rows with their reasons, and how many more there are, for messages."""
        shown = "; ".join(map(str, self.bad_rows[:LISTED_IN_ERROR]))
        return shown + (f" and {self.bad_row_count - LISTED_IN_ERROR:,} more" if self.bad_row_count > LISTED_IN_ERROR else "")
