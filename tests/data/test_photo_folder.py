"""Photo folder loader: GPS from EXIF in every format, labels from sub-folders, bad photos reported."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from core.data.errors import DatasetError
from core.data.photo_folder import load_photo_folder
from tests.data.fixtures import gps_ifd, jpeg_with_gps_bytes, photo_bytes, truncated_jpeg_bytes, write_file


def test_labelled_subfolders_and_all_formats(tmp_path):
    taken = datetime(2022, 8, 1, 9, 30)
    write_file(tmp_path / "beach/a.jpg", jpeg_with_gps_bytes(-8.65, 115.13, capture_time=taken))
    write_file(tmp_path / "beach/deeper/b.PNG", photo_bytes("PNG", gps=gps_ifd(36.0, -5.6)))
    write_file(tmp_path / "city/c.heic", photo_bytes("HEIF", gps=gps_ifd(40.7128, -74.006)))
    write_file(tmp_path / "city/d.avif", photo_bytes("AVIF", gps=gps_ifd(-33.9249, 18.4241)))
    write_file(tmp_path / "city/e.tiff", photo_bytes("TIFF", gps=gps_ifd(64.1466, -21.9426)))
    write_file(tmp_path / "city/notes.txt", b"not a photo, ignored")
    dataset = load_photo_folder(tmp_path)
    assert dataset.problems == []
    assert dataset.class_names == ["beach", "city"]
    table = dataset.records.set_index("image")
    assert table["label"].to_dict() == {"beach/a.jpg": 0, "beach/deeper/b.PNG": 0, "city/c.heic": 1,
                                        "city/d.avif": 1, "city/e.tiff": 1}
    assert (table.at["beach/a.jpg", "lat"], table.at["beach/a.jpg", "lon"]) == pytest.approx((-8.65, 115.13))
    assert (table.at["city/c.heic", "lat"], table.at["city/c.heic", "lon"]) == pytest.approx((40.7128, -74.006))
    assert pd.isna(table.at["beach/a.jpg", "timestamp"])  # camera local time only: its zone is unknown ...
    assert table.at["beach/a.jpg", "local_time"] == pd.Timestamp(taken)  # ... so it is kept naive, as local
    assert pd.isna(table.at["city/d.avif", "timestamp"]) and pd.isna(table.at["city/d.avif", "local_time"])


def test_capture_times_are_utc_only_when_the_photo_says_so(tmp_path):
    """Tokyo, 09:00 local = 00:00 UTC: GPS time first, then DateTimeOriginal + OffsetTimeOriginal."""
    local = datetime(2021, 5, 3, 9, 0, 0)
    write_file(tmp_path / "gps.jpg", jpeg_with_gps_bytes(35.68, 139.69, fix_time=datetime(2021, 5, 3), capture_time=local))
    write_file(tmp_path / "offset.jpg", jpeg_with_gps_bytes(35.68, 139.69, capture_time=local, capture_offset="+09:00"))
    table = load_photo_folder(tmp_path).records.set_index("image")
    assert table["timestamp"].tolist() == [pd.Timestamp("2021-05-03T00:00:00Z")] * 2
    assert table["local_time"].isna().all()


def test_top_level_photos_are_unlabelled_and_use_gps_time(tmp_path):
    fix_time = datetime(2020, 1, 2, 3, 4, 5)
    write_file(tmp_path / "one.jpg", jpeg_with_gps_bytes(1.5, -2.5, altitude=12.5, fix_time=fix_time))
    dataset = load_photo_folder(tmp_path)
    assert dataset.class_names == [] and dataset.labels.tolist() == [-1]
    assert dataset[0].timestamp == pd.Timestamp(fix_time, tz="UTC")
    assert dataset.records.at[0, "altitude_m"] == pytest.approx(12.5)


def test_bad_photos_are_reported_and_skipped(tmp_path):
    write_file(tmp_path / "good.jpg", jpeg_with_gps_bytes(10.0, 20.0))
    write_file(tmp_path / "nogps.jpg", photo_bytes("JPEG"))
    bad_gps = gps_ifd(10.0, 20.0)
    bad_gps[2] = ((95, 1), (0, 1), (0, 1))
    write_file(tmp_path / "badgps.jpg", photo_bytes("JPEG", gps=bad_gps))
    write_file(tmp_path / "truncated.jpg", truncated_jpeg_bytes(gps_ifd(10.0, 20.0)))
    write_file(tmp_path / "text.jpg", b"hello")
    write_file(tmp_path / "empty.png", b"")
    outside = write_file(tmp_path.parent / f"{tmp_path.name}-outside" / "x.jpg", jpeg_with_gps_bytes(1.0, 1.0))
    (tmp_path / "escape.jpg").symlink_to(outside)
    (tmp_path / "linked_dir").symlink_to(outside.parent, target_is_directory=True)
    dataset = load_photo_folder(tmp_path)
    assert dataset.records["image"].tolist() == ["good.jpg"]
    problems = dict(problem.split(": ", 1) for problem in dataset.problems)
    assert problems["nogps.jpg"] == "no GPS position in the photo's EXIF"
    assert "latitude 95° is larger than 90°" in problems["badgps.jpg"]
    assert "truncated" in problems["truncated.jpg"]
    assert "not an image" in problems["text.jpg"]
    assert "empty" in problems["empty.png"]
    assert problems["escape.jpg"] == "symbolic link leading outside the photo folder"
    assert problems["linked_dir"] == "symbolic link leading outside the photo folder"


def test_hidden_files_are_ignored(tmp_path):
    write_file(tmp_path / "ok.jpg", jpeg_with_gps_bytes(1.0, 2.0))
    write_file(tmp_path / "._ok.jpg", b"AppleDouble junk")
    write_file(tmp_path / ".thumbnails/t.jpg", b"junk")
    assert load_photo_folder(tmp_path).problems == []


def test_empty_or_all_bad_folder_raises(tmp_path):
    with pytest.raises(DatasetError, match="no photos"):
        load_photo_folder(tmp_path)
    write_file(tmp_path / "a.jpg", photo_bytes("JPEG"))
    with pytest.raises(DatasetError, match=r"none of the 1 photos can be used \(a\.jpg: no GPS"):
        load_photo_folder(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_photo_folder(tmp_path / "missing")
