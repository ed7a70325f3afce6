"""The header names tabular files use for each field, and finding the fields in a header.

One table for every CSV reader (the geo CSV dataset, and any other table of places): headers are
matched case-insensitively, ignoring surrounding spaces, against the aliases of each field.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Field name -> the header names accepted for it (lower case; the field's own name first).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "path": ("path", "file", "filename", "file_name", "image", "image_path"),
    "label": ("label", "class", "category"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "timestamp": ("timestamp", "datetime", "date_time", "time", "date"),
}


def resolve_columns(header: Sequence[str], required: Sequence[str], optional: Sequence[str] = ()) -> dict[str, int]:
    """Field name -> position of its column in ``header``, for the ``required`` and present ``optional`` fields.

    A field not in :data:`COLUMN_ALIASES` is matched by its own name only. Raises ValueError naming
    the missing required fields (with their accepted names) or a field given by two columns.
    """
    names = [str(name).strip().lower() for name in header]
    found: dict[str, int] = {}
    missing = []
    for field in (*required, *optional):
        aliases = COLUMN_ALIASES.get(field, (field,))
        positions = [position for position, name in enumerate(names) if name in aliases]
        if len(positions) > 1:
            both = " and ".join(repr(header[p].strip()) for p in positions)
            raise ValueError(f"columns {both} both give the {field}; keep one")
        if positions:
            found[field] = positions[0]
        elif field in required:
            missing.append(f"{field} (or {'/'.join(aliases[1:])})" if len(aliases) > 1 else field)
    if missing:
        shown = ", ".join(name.strip() for name in header) or "nothing"
        raise ValueError(f"the header lacks column(s) {'; '.join(missing)} (found: {shown})")
    return found


#: Headers read as longitude / latitude only when a table has no column named as in :data:`COLUMN_ALIASES`.
FALLBACK_LONLAT = ("x", "y")


def lonlat_columns(header: Sequence[str]) -> tuple[int, int]:
    """Positions of the longitude and latitude columns of a table of places.

    The :data:`COLUMN_ALIASES` names first; ``x``/``y`` (GIS exports) when neither is there. Raises
    ValueError naming what is missing or doubled, like :func:`resolve_columns`.
    """
    names = [str(name).strip().lower() for name in header]
    named = any(name in COLUMN_ALIASES["lon"] + COLUMN_ALIASES["lat"] for name in names)
    if not named and all(axis in names for axis in FALLBACK_LONLAT):
        return names.index(FALLBACK_LONLAT[0]), names.index(FALLBACK_LONLAT[1])
    found = resolve_columns(header, ("lon", "lat"))
    return found["lon"], found["lat"]
