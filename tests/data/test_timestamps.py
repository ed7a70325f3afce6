"""The one tolerant timestamp reader: the formats real dataset files carry, and a clear error otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.data.timestamps import parse_timestamp

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-02-11 15:32:00+00:00", datetime(2017, 2, 11, 15, 32, tzinfo=UTC)),  # iNat2018 locations
        ("2017-02-11 08:32:00-07:00", datetime(2017, 2, 11, 8, 32, tzinfo=timezone(timedelta(hours=-7)))),
        ("2016-08-01T12:00:00Z", datetime(2016, 8, 1, 12, tzinfo=UTC)),  # fMoW
        ("2016-08-01T12:00:00.123456Z", datetime(2016, 8, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2016-08-01 12:00:00 UTC", datetime(2016, 8, 1, 12, tzinfo=UTC)),
        ("2016-08-01T12:00:00+0200", datetime(2016, 8, 1, 12, tzinfo=timezone(timedelta(hours=2)))),
        ("2016-08-01", datetime(2016, 8, 1)),
        ("2019:04:01 12:00:00", datetime(2019, 4, 1, 12)),  # EXIF
        ("2019/4/1 12:00", datetime(2019, 4, 1, 12)),
        ("  ", None),
        (None, None),
    ],
)
def test_accepted_formats(text, expected):
    assert parse_timestamp(text) == expected


def test_zone_less_times_stay_naive():
    assert parse_timestamp("2019:04:01 12:00:00").tzinfo is None


@pytest.mark.parametrize("text", ["yesterday", "0000:00:00 00:00:00", "2017-02-30", "2017-13-01 00:00:00"])
def test_odd_dates_are_refused_clearly(text):
    with pytest.raises(ValueError, match=rf"timestamp '{text}' is not a date/time \(expected ISO 8601"):
        parse_timestamp(text)
