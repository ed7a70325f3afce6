"""Reading where and when a photo was taken from its EXIF (GPS IFD, DateTimeOriginal and its offset).

Works on any Pillow image whose EXIF Pillow (or pillow-heif) exposes: JPEG, PNG, TIFF, HEIC, AVIF.
The GPS IFD is read with ``image.getexif().get_ifd(ExifTags.IFD.GPSInfo)`` — ``getexif()[0x8825]``
is only an offset.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image

from core.data.timestamps import parse_timestamp

_GPS = ExifTags.GPS


class GpsError(ValueError):
    """The photo has GPS data, but it is nonsensical (out of range, malformed, missing a reference)."""


@dataclass(frozen=True)
class GpsFix:
    """A photo's GPS position in degrees (S and W negative), altitude in metres, UTC time of the fix."""

    lon: float
    lat: float
    altitude_m: float | None
    timestamp: datetime | None


def _number(value: object, what: str) -> float:
    """One EXIF (rational) number as a float; zero denominators and NaN raise :class:`GpsError`."""
    if getattr(value, "denominator", 1) == 0:
        raise GpsError(f"{what} is a rational with a zero denominator ({value.numerator}/0)")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise GpsError(f"{what} is not a number: {value!r}") from exc
    if not math.isfinite(number):
        raise GpsError(f"{what} is not a finite number: {number}")
    return number


def _degrees(gps: dict, value_tag: int, ref_tag: int, axis: str, refs: str, limit: float) -> float:
    """Signed decimal degrees from a (degrees, minutes, seconds) triple and its N/S or E/W reference."""
    if value_tag not in gps:
        raise GpsError(f"GPS {axis} is missing although the other coordinate is present")
    components = gps[value_tag]
    if not isinstance(components, tuple) or len(components) != 3:
        count = len(components) if isinstance(components, tuple) else 1
        raise GpsError(f"GPS {axis} must have 3 components (degrees, minutes, seconds), found {count}")
    degrees, minutes, seconds = (
        _number(c, f"GPS {axis} {part}") for c, part in zip(components, ("degrees", "minutes", "seconds"))
    )
    if min(degrees, minutes, seconds) < 0 or max(minutes, seconds) > 60:  # 60 itself: a rounding artefact
        raise GpsError(f"GPS {axis} {degrees}° {minutes}' {seconds}\" is not a valid degrees/minutes/seconds triple")
    value = degrees + minutes / 60.0 + seconds / 3600.0
    if value > limit:
        raise GpsError(f"GPS {axis} {value:.6g}° is larger than {limit:g}°")
    ref = gps.get(ref_tag)
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    ref = ref.strip("\x00 ").upper() if isinstance(ref, str) else ""
    if ref not in (refs[0], refs[1]):
        shown = f"{gps.get(ref_tag)!r}" if ref_tag in gps else "missing"
        raise GpsError(f"GPS {axis} reference must be {refs[0]} or {refs[1]}, found {shown}")
    return -value if ref == refs[1] else value


def _optional(read, *args):
    """The value ``read(*args)`` or None when the optional field is absent or unreadable."""
    try:
        return read(*args)
    except (GpsError, TypeError, ValueError, KeyError):
        return None


def _altitude(gps: dict) -> float:
    altitude = _number(gps[_GPS.GPSAltitude], "GPS altitude")
    below_sea_level = gps.get(_GPS.GPSAltitudeRef, 0) in (1, b"\x01")
    return -altitude if below_sea_level else altitude


def _fix_time(gps: dict) -> datetime:
    day = datetime.strptime(str(gps[_GPS.GPSDateStamp]).strip("\x00 "), "%Y:%m:%d")
    hours, minutes, seconds = (_number(v, "GPS time") for v in gps[_GPS.GPSTimeStamp])
    return day.replace(tzinfo=timezone.utc) + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _ifd(image: Image.Image, ifd: ExifTags.IFD) -> dict:
    """One EXIF sub-IFD as a dict; damaged EXIF raises :class:`GpsError`."""
    try:
        return dict(image.getexif().get_ifd(ifd))
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error) as exc:
        raise GpsError(f"the EXIF data cannot be read ({exc})") from exc


def read_gps(image: Image.Image) -> GpsFix | None:
    """The photo's GPS fix, or None when it has no GPS position at all.

    Raises :class:`GpsError` when a position is present but nonsensical: a coordinate with the wrong
    number of components, a zero denominator, NaN, out of range, or a missing/invalid N/S or E/W
    reference, or EXIF too damaged to read. Altitude and fix time are optional: absent or unreadable
    ones are None.
    """
    gps = _ifd(image, ExifTags.IFD.GPSInfo)
    if _GPS.GPSLatitude not in gps and _GPS.GPSLongitude not in gps:
        return None
    lat = _degrees(gps, _GPS.GPSLatitude, _GPS.GPSLatitudeRef, "latitude", "NS", 90.0)
    lon = _degrees(gps, _GPS.GPSLongitude, _GPS.GPSLongitudeRef, "longitude", "EW", 180.0)
    return GpsFix(lon=lon, lat=lat, altitude_m=_optional(_altitude, gps), timestamp=_optional(_fix_time, gps))


def read_capture_time(image: Image.Image) -> datetime | None:
    """When the photo was taken: aware (UTC) when the photo says which zone, naive local camera time otherwise.

    In order of preference: the GPS fix time (GPSDateStamp + GPSTimeStamp, UTC by definition), then
    DateTimeOriginal with its OffsetTimeOriginal, converted to UTC. A DateTimeOriginal without an
    offset is the camera's local clock in an unknown zone: it is returned naive, never labelled
    UTC. None when the photo carries no readable time (e.g. the ``0000:00:00 00:00:00`` of an unset clock).
    """
    try:
        gps_time = _optional(_fix_time, _ifd(image, ExifTags.IFD.GPSInfo))
        exif_ifd = _ifd(image, ExifTags.IFD.Exif)
    except GpsError:
        return None
    if gps_time is not None:
        return gps_time
    text = _text(exif_ifd.get(ExifTags.Base.DateTimeOriginal))
    offset = _text(exif_ifd.get(ExifTags.Base.OffsetTimeOriginal))
    for candidate in (text + offset, text) if offset else (text,):
        try:
            taken = parse_timestamp(candidate)
        except ValueError:
            continue  # a malformed offset: try the local time alone; an unset clock: no time
        return taken.astimezone(timezone.utc) if taken is not None and taken.tzinfo is not None else taken
    return None


def _text(value: object) -> str:
    """An EXIF ASCII field without its NUL padding ("" when absent or not text)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else ""
