"""EXIF GPS and capture time: values read back equal what was written; nonsense raises GpsError."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import piexif
import pytest
from PIL import Image

from core.data.exif import GpsError, GpsFix, read_capture_time, read_gps
from core.data.images import probe_image_bytes
from tests.data.fixtures import altered_gps_ifd, gps_ifd, jpeg_with_gps_bytes, photo_bytes

G = piexif.GPSIFD


def _gps_of(data: bytes) -> GpsFix | None:
    return read_gps(probe_image_bytes(data))


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(48.858222, 2.2945), (-33.856784, 151.215297), (40.689247, -74.044502), (-22.951916, -43.210487), (0.0, 0.0)],
    ids=["N-E", "S-E", "N-W", "S-W", "origin"],
)
def test_jpeg_gps_round_trip_with_sw_negation(lat, lon):
    fix = _gps_of(jpeg_with_gps_bytes(lat, lon))
    assert fix.lat == pytest.approx(lat, abs=1e-6)
    assert fix.lon == pytest.approx(lon, abs=1e-6)
    assert fix.altitude_m is None and fix.timestamp is None


@pytest.mark.parametrize("fmt", ["PNG", "HEIF", "AVIF", "TIFF"])
def test_gps_in_other_formats(fmt):
    fix = _gps_of(photo_bytes(fmt, gps=gps_ifd(-41.2865, 174.7762)))
    assert (fix.lat, fix.lon) == pytest.approx((-41.2865, 174.7762), abs=1e-6)


def test_altitude_and_fix_time():
    when = datetime(2021, 7, 4, 18, 5, 9)
    fix = _gps_of(jpeg_with_gps_bytes(31.5, 35.5, altitude=-415.25, fix_time=when))
    assert fix.altitude_m == pytest.approx(-415.25)
    assert fix.timestamp == when.replace(tzinfo=timezone.utc)
    assert _gps_of(jpeg_with_gps_bytes(27.98, 86.92, altitude=8848.86)).altitude_m == pytest.approx(8848.86)


def test_gps_fix_is_frozen():
    fix = GpsFix(lon=1.0, lat=2.0, altitude_m=None, timestamp=None)
    with pytest.raises(AttributeError):
        fix.lat = 3.0


def test_no_gps_gives_none():
    assert _gps_of(photo_bytes("JPEG")) is None
    assert _gps_of(photo_bytes("JPEG", gps={G.GPSMapDatum: "WGS-84", G.GPSAltitude: (100, 1)})) is None


@pytest.mark.parametrize(
    ("ifd", "message"),
    [
        (altered_gps_ifd(GPSLatitude=((95, 1), (0, 1), (0, 1))), r"latitude 95° is larger than 90°"),
        (altered_gps_ifd(GPSLongitude=((181, 1), (30, 1), (0, 1))), r"longitude 181\.5° is larger than 180°"),
        (altered_gps_ifd(GPSLatitude=((10, 0), (0, 1), (0, 1))), r"latitude degrees is a rational with a zero denominator"),
        (altered_gps_ifd(GPSLongitude=((20, 1), (0, 1), (0, 0))), r"longitude seconds is a rational with a zero denominator"),
        (altered_gps_ifd(GPSLatitude=((10, 1), (30, 1))), r"latitude must have 3 components .* found 2"),
        (altered_gps_ifd(GPSLatitude=((10, 1), (75, 1), (0, 1))), r"not a valid degrees/minutes/seconds"),
        (altered_gps_ifd(GPSLatitudeRef=None), r"latitude reference must be N or S, found missing"),
        (altered_gps_ifd(GPSLongitudeRef="X"), r"longitude reference must be E or W, found 'X'"),
        (altered_gps_ifd(GPSLongitude=None), r"longitude is missing"),
    ],
    ids=["lat>90", "lon>180", "zero-denominator", "zero-over-zero", "two-components", "minutes>=60",
         "missing-ref", "bad-ref", "lon-missing"],
)
def test_nonsensical_gps_raises(ifd, message):
    with pytest.raises(GpsError, match=message):
        _gps_of(photo_bytes("JPEG", gps=ifd))


def test_unreadable_altitude_does_not_lose_the_position():
    ifd = altered_gps_ifd(GPSAltitude=(100, 0))
    assert _gps_of(photo_bytes("JPEG", gps=ifd)) == GpsFix(lon=20.0, lat=10.0, altitude_m=None, timestamp=None)


def test_capture_time():
    taken = datetime(2019, 12, 24, 23, 59, 1)
    local = read_capture_time(probe_image_bytes(photo_bytes("JPEG", capture_time=taken)))
    assert local == taken and local.tzinfo is None  # camera local time: never labelled UTC
    assert read_capture_time(probe_image_bytes(photo_bytes("HEIF", capture_time=taken))) == taken
    assert read_capture_time(probe_image_bytes(photo_bytes("JPEG"))) is None


def test_capture_time_with_offset_and_unset_clock():
    exif = {
        "Exif": {piexif.ExifIFD.DateTimeOriginal: "2020:02:29 10:00:00", piexif.ExifIFD.OffsetTimeOriginal: "+05:30"}
    }
    taken = read_capture_time(probe_image_bytes(_jpeg_with_exif(exif)))
    assert taken == datetime(2020, 2, 29, 4, 30, tzinfo=timezone.utc) and taken.utcoffset() == timedelta(0)
    exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = "+5h"  # malformed: the local time alone, still naive
    assert read_capture_time(probe_image_bytes(_jpeg_with_exif(exif))) == datetime(2020, 2, 29, 10)
    unset = {"Exif": {piexif.ExifIFD.DateTimeOriginal: "0000:00:00 00:00:00"}}
    assert read_capture_time(probe_image_bytes(_jpeg_with_exif(unset))) is None


def test_gps_utc_time_wins_over_naive_local_time():
    """A phone in Tokyo: DateTimeOriginal 09:00 local (no offset), GPS fix 00:00 UTC the same instant."""
    local = datetime(2021, 5, 3, 9, 0, 0)
    data = jpeg_with_gps_bytes(35.68, 139.69, fix_time=datetime(2021, 5, 3, 0, 0, 0), capture_time=local)
    assert read_capture_time(probe_image_bytes(data)) == datetime(2021, 5, 3, 0, 0, tzinfo=timezone.utc)


def _jpeg_with_exif(exif: dict) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG", exif=piexif.dump(exif))
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_damaged_exif_does_not_crash():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x88%")
    image = probe_image_bytes(buffer.getvalue())
    assert read_gps(image) is None
    assert read_capture_time(image) is None
