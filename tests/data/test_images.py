"""Opening untrusted images: every mode to RGB, orientation, and each refusal with its reason."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.images import (
    FORMAT_NAMES,
    IMAGE_FORMATS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    ImageRejected,
    open_image_bytes,
    open_image_file,
    probe_image_bytes,
)
from tests.data.fixtures import noise_jpeg_bytes, photo_bytes, png_header_bytes, truncated_jpeg_bytes, write_file


def _encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_limits():
    assert MAX_IMAGE_BYTES == 25 * 1024 * 1024
    assert MAX_IMAGE_PIXELS == 40_000_000


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF", "AVIF", "TIFF"])
def test_formats_open_as_rgb(fmt):
    image = open_image_bytes(photo_bytes(fmt, size=(40, 24), color=(200, 80, 40)))
    assert image.mode == "RGB" and image.size == (40, 24)
    assert np.allclose(np.asarray(image)[12, 20], (200, 80, 40), atol=12)


def test_exif_orientation_is_applied():
    image = open_image_bytes(photo_bytes("JPEG", size=(40, 24), orientation=6))
    assert image.size == (24, 40)


def test_rgba_is_composited_on_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    pixels = np.asarray(open_image_bytes(_encode(rgba)))
    assert tuple(pixels[1, 1]) == (255, 255, 255)
    assert tuple(pixels[0, 0]) == (0, 0, 255)


def test_la_and_paletted_with_transparency():
    la = Image.new("LA", (3, 3), (10, 0))
    assert tuple(np.asarray(open_image_bytes(_encode(la)))[0, 0]) == (255, 255, 255)
    paletted = Image.new("P", (3, 3), 1)
    paletted.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    paletted.info["transparency"] = 0
    assert tuple(np.asarray(open_image_bytes(_encode(paletted, transparency=0)))[0, 0]) == (0, 255, 0)


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    values = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    data = _encode(Image.fromarray(values))
    pixels = np.asarray(open_image_bytes(data))
    assert pixels[0, :, 0].tolist() == [0, 128, 255]


def test_cmyk_and_grayscale():
    cmyk = open_image_bytes(_encode(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG"))
    assert np.allclose(np.asarray(cmyk)[0, 0], (255, 0, 0), atol=10)
    gray = open_image_bytes(_encode(Image.new("L", (4, 4), 77)))
    assert tuple(np.asarray(gray)[0, 0]) == (77, 77, 77)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", r"empty \(0 bytes\)"),
        (b"just some text, not a picture\n", "not an image"),
        (truncated_jpeg_bytes(), "truncated"),
    ],
    ids=["zero-bytes", "text", "truncated-jpeg"],
)
def test_bad_bytes_are_rejected_with_reason(data, reason):
    with pytest.raises(ImageRejected, match=reason) as info:
        open_image_bytes(data, name="upload.jpg")
    assert str(info.value).startswith("upload.jpg: ")


@pytest.mark.parametrize("image_format", IMAGE_FORMATS, ids=[f.pillow for f in IMAGE_FORMATS])
def test_every_listed_format_decodes_here(image_format):
    import pillow_heif

    pillow_heif.register_heif_opener()  # lets Pillow write HEIF
    image = open_image_bytes(_encode(Image.new("RGB", (12, 8), (200, 80, 40)), image_format.pillow))
    assert image.size == (12, 8) and image.mode == "RGB"
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in image_format.suffixes)


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "TGA", "JPEG2000"])
def test_formats_outside_the_list_are_refused_before_any_parser_runs(fmt):
    data = _encode(Image.new("RGB", (12, 8)), fmt)
    assert Image.open(io.BytesIO(data)).format == fmt, "Pillow itself would open it"
    with pytest.raises(ImageRejected, match=r"not one we can read \(use JPEG, PNG, HEIC/HEIF, AVIF, WebP, TIFF, BMP or GIF\)"):
        open_image_bytes(data, name="x.ppm")
    assert FORMAT_NAMES == "JPEG, PNG, HEIC/HEIF, AVIF, WebP, TIFF, BMP or GIF"


def test_decompression_bomb_refused_from_header(monkeypatch):
    data = png_header_bytes(30000, 30000)
    assert len(data) < 200
    with pytest.raises(ImageRejected, match="decompression bomb"):  # Pillow's own limit trips first here
        open_image_bytes(data)

    def never_decode(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", never_decode)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # our check must not depend on Pillow's
    with pytest.raises(ImageRejected, match=r"decompression bomb: 30000x30000 = 900 megapixels"):
        open_image_bytes(data)


def test_pixel_cap_is_a_parameter():
    data = photo_bytes("PNG", size=(100, 100))
    with pytest.raises(ImageRejected, match="decompression bomb"):
        probe_image_bytes(data, max_pixels=9_999)
    assert probe_image_bytes(data, max_pixels=10_000).size == (100, 100)


def test_oversize_file_refused_before_reading(tmp_path, monkeypatch):
    path = write_file(tmp_path / "big.jpg", noise_jpeg_bytes())
    read_sizes = []
    original_open = Path.open

    def spy_open(self, *args, **kwargs):
        handle = original_open(self, *args, **kwargs)
        original_read = handle.read
        handle.read = lambda n=-1: read_sizes.append(n) or original_read(n)
        return handle

    monkeypatch.setattr(Path, "open", spy_open)
    with pytest.raises(ImageRejected, match=r"big\.jpg: the file is .* larger than the 0\.0 MiB limit"):
        open_image_file(path, max_bytes=1000)
    assert read_sizes == []


def test_file_errors_name_the_file(tmp_path):
    empty = write_file(tmp_path / "empty.png", b"")
    with pytest.raises(ImageRejected, match=r"empty\.png: the file is empty"):
        open_image_file(empty)
    with pytest.raises(ImageRejected, match=r"missing\.jpg: cannot be read"):
        open_image_file(tmp_path / "missing.jpg")
    text = write_file(tmp_path / "notes.jpg", b"hello")
    with pytest.raises(ImageRejected, match=r"notes\.jpg: not an image"):
        open_image_file(text)


def test_open_image_file_reads_a_good_file(tmp_path):
    path = write_file(tmp_path / "ok.heic", photo_bytes("HEIF", size=(20, 10)))
    assert open_image_file(path).size == (20, 10)
