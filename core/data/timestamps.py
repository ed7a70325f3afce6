"""One tolerant reader for the date/time strings dataset files carry (iNat2018 locations, CSVs, fMoW).

Accepted, with or without a zone: ISO 8601 (``2017-02-11``, ``2017-02-11T15:32:00Z``,
``2017-02-11 15:32:00+00:00`` as in the iNat2018 locations, fractions of a second, ``+0000``), a
trailing ``UTC``/``GMT``, EXIF-style ``2017:02:11 15:32:00`` and slashed dates ``2017/02/11 15:32``.
A time without a zone is returned naive: this module never decides which zone it was in.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

#: EXIF-style ``YYYY:MM:DD`` or slashed ``YYYY/MM/DD`` date, rewritten to ISO ``YYYY-MM-DD``.
_DATE_SEPARATORS = re.compile(r"^(\d{4})[:/](\d{1,2})[:/](\d{1,2})(?=$|[ T])")
#: A zone written as a word after the time: ``... UTC`` / ``... GMT`` / ``... Z``.
_ZONE_WORD = re.compile(r"\s*(UTC|GMT|Z)$", re.IGNORECASE)


def parse_timestamp(value: object) -> datetime | None:
    """The date/time in ``value`` (aware when it names a zone, naive otherwise); None when empty.

    Raises ValueError, saying what is accepted, for anything else (``yesterday``, the
    ``0000:00:00 00:00:00`` an unset camera clock writes, 30 February).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    iso, utc = _ZONE_WORD.sub("", text), bool(_ZONE_WORD.search(text))
    match = _DATE_SEPARATORS.match(iso)
    if match:
        year, month, day = match.groups()
        iso = f"{year}-{int(month):02d}-{int(day):02d}" + iso[match.end():]
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(
            f"timestamp {text!r} is not a date/time (expected ISO 8601 like 2017-02-11 15:32:00+00:00, "
            "or EXIF-style 2017:02:11 15:32:00)"
        ) from None
    if utc and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
