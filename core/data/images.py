"""Opening untrusted image bytes safely: size caps, decompression-bomb check, any mode to RGB.

Every uploaded image goes through :func:`open_image_bytes` / :func:`open_image_file`. The pixel
count is checked from the header *before* any pixel is decoded, against our own cap rather than
Pillow's global ``MAX_IMAGE_PIXELS``. Dataset files on the user's own disk (fMoW's pan-sharpened
images reach 8200 × 6312 = 52 MP) go through :func:`probe_dataset_file` and :func:`decode_region`
instead: a higher header ceiling, and JPEGs decoded at a reduced scale (``Image.draft``, 1/2 … 1/8)
just large enough for the region wanted, so no more than :data:`MAX_DECODED_PIXELS` are ever held. HEIC/HEIF are read through
pillow-heif (registered on import); AVIF through Pillow's own plugin. Only the parsers of
:data:`IMAGE_FORMATS` ever see the bytes: any other file is refused as an unsupported format.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

register_heif_opener()

#: Largest accepted encoded image, in bytes.
MAX_IMAGE_BYTES = 25 * 1024 * 1024
#: Largest accepted decoded image, in pixels (width * height).
MAX_IMAGE_PIXELS = 40_000_000
#: Largest accepted dataset file, in bytes (fMoW's largest JPEGs are ~30 MB).
DATASET_MAX_BYTES = 256 * 1024 * 1024
#: Header ceiling of a dataset image, in pixels: well above fMoW's 52 MP, below Pillow's own
#: decompression-bomb error (2 × its 89 MP warning level).
DATASET_MAX_PIXELS = 150_000_000
#: Most pixels a dataset image may decode to (after JPEG draft reduction); larger is refused.
MAX_DECODED_PIXELS = 64_000_000


class ImageFormat(NamedTuple):
    """A format we decode: Pillow's name for it, the name users know, its file suffixes."""

    pillow: str
    label: str
    suffixes: tuple[str, ...]


#: The formats :func:`probe_image_bytes` opens (checked on the content, not the file name).
IMAGE_FORMATS = (
    ImageFormat("JPEG", "JPEG", (".jpg", ".jpeg")),
    ImageFormat("PNG", "PNG", (".png",)),
    ImageFormat("HEIF", "HEIC/HEIF", (".heic", ".heif")),
    ImageFormat("AVIF", "AVIF", (".avif",)),
    ImageFormat("WEBP", "WebP", (".webp",)),
    ImageFormat("TIFF", "TIFF", (".tif", ".tiff")),
    ImageFormat("BMP", "BMP", (".bmp",)),
    ImageFormat("GIF", "GIF", (".gif",)),
)
#: Every file suffix of :data:`IMAGE_FORMATS`.
IMAGE_SUFFIXES = tuple(suffix for image_format in IMAGE_FORMATS for suffix in image_format.suffixes)
#: The supported formats as a user reads them: "JPEG, PNG, ... or GIF".
FORMAT_NAMES = ", ".join(f.label for f in IMAGE_FORMATS[:-1]) + f" or {IMAGE_FORMATS[-1].label}"

#: Errors Pillow's decoders raise on damaged data (besides OSError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


class ImageRejected(ValueError):
    """An image that will not be opened; ``reason`` is the user-facing why, ``name`` the file (if known)."""

    def __init__(self, reason: str, name: str | None = None) -> None:
        self.reason = reason
        self.name = name
        super().__init__(f"{name}: {reason}" if name else reason)


def _size_text(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MiB"


def _check_byte_count(n_bytes: int, max_bytes: int, name: str | None) -> None:
    if n_bytes == 0:
        raise ImageRejected("the file is empty (0 bytes)", name)
    if n_bytes > max_bytes:
        raise ImageRejected(
            f"the file is {_size_text(n_bytes)}, larger than the {_size_text(max_bytes)} limit", name
        )


def read_image_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """Read an image file's bytes, refusing empty and over-size files before reading them."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            _check_byte_count(os.fstat(handle.fileno()).st_size, max_bytes, str(path))
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ImageRejected(f"cannot be read ({exc.strerror or exc})", str(path)) from exc
    _check_byte_count(len(data), max_bytes, str(path))  # the file may have changed since fstat
    return data


def probe_image_bytes(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    name: str | None = None,
) -> Image.Image:
    """Parse only the header of ``data``: a lazy image whose size is within ``max_pixels``.

    No pixel is decoded; use it to read metadata (EXIF) and pass it to :func:`decode_rgb`.
    """
    _check_byte_count(len(data), max_bytes, name)
    try:
        image = Image.open(io.BytesIO(data), formats=[f.pillow for f in IMAGE_FORMATS])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # the warning if made an error
        raise ImageRejected(f"refused as a decompression bomb: {exc}", name) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(f"not an image, or not one we can read (use {FORMAT_NAMES})", name) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(f"the image header is corrupt ({exc})", name) from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejected(f"the image header gives an invalid size {width}x{height}", name)
    if width * height > max_pixels:
        raise ImageRejected(
            f"refused as a possible decompression bomb: {width}x{height} = {width * height / 1e6:.0f} "
            f"megapixels, more than the {max_pixels / 1e6:.0f} megapixel limit",
            name,
        )
    return image


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale a 16/32-bit integer or float single-channel image to 8-bit 'L'."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        scale = 255.0 if np.nanmax(values, initial=0.0) <= 1.0 else 1.0
        scaled = values * scale
    elif image.mode.startswith("I;16") or np.nanmax(values, initial=0.0) > 255:
        scaled = values / 257.0  # the 16-bit range 0..65535 onto 0..255
    else:
        scaled = values  # an 'I' image that already holds 8-bit values
    return Image.fromarray(np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8))


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparency is composited on white."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _to_8bit(image)
    has_alpha = image.mode in ("RGBA", "RGBa", "LA", "PA") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def decode_rgb(
    image: Image.Image, *, name: str | None = None, draft_size: tuple[int, int] | None = None
) -> Image.Image:
    """Decode a lazily opened image to RGB, EXIF orientation applied.

    ``draft_size`` lets JPEGs decode at a reduced scale (a fast integrity check); other formats
    ignore it. Damaged or truncated pixel data raises :class:`ImageRejected`.
    """
    try:
        if draft_size is not None:
            image.draft("RGB", draft_size)
        image.load()
        image = ImageOps.exif_transpose(image)
        return _flatten_to_rgb(image)
    except _DECODE_ERRORS as exc:
        problem = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise ImageRejected(f"the image data is {problem} ({exc})", name) from exc


#: A pixel box ``(left, top, right, bottom)`` in the file's stored pixel grid (before EXIF orientation).
Region = tuple[int, int, int, int]


def probe_dataset_file(path: str | os.PathLike[str]) -> Image.Image:
    """Header of a dataset image file (lazy, nothing decoded), with the dataset size ceilings."""
    data = read_image_file(path, max_bytes=DATASET_MAX_BYTES)
    return probe_image_bytes(data, max_bytes=DATASET_MAX_BYTES, max_pixels=DATASET_MAX_PIXELS, name=str(path))


def decode_region(image: Image.Image, region: Region, min_side: int, *, name: str | None = None) -> Image.Image:
    """``region`` of a lazily opened image as RGB, decoded at the smallest JPEG scale keeping ``min_side``.

    The JPEG draft scale (1, 1/2, 1/4 or 1/8) is the largest that leaves at least ``min_side`` pixels
    across the region's shorter side; other formats decode at full size. Refused (:class:`ImageRejected`)
    when the decode would exceed :data:`MAX_DECODED_PIXELS`, or the region is empty or outside the image.
    EXIF orientation is applied to the cropped region.
    """
    width, height = image.size
    left, top, right, bottom = region
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ImageRejected(f"the crop box {region} is empty or outside the {width}x{height} image", name)
    scale = max(1, min(right - left, bottom - top) // max(1, min_side))
    try:
        image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
    except _DECODE_ERRORS as exc:
        raise ImageRejected(f"the image header is corrupt ({exc})", name) from exc
    decoded_width, decoded_height = image.size
    if decoded_width * decoded_height > MAX_DECODED_PIXELS:
        raise ImageRejected(
            f"{width}x{height} would decode to {decoded_width * decoded_height / 1e6:.0f} megapixels, "
            f"more than the {MAX_DECODED_PIXELS / 1e6:.0f} megapixel limit (only JPEGs decode reduced)",
            name,
        )
    fx, fy = decoded_width / width, decoded_height / height
    box = (int(left * fx), int(top * fy), max(int(left * fx) + 1, round(right * fx)), max(int(top * fy) + 1, round(bottom * fy)))
    try:
        image.load()
        return _flatten_to_rgb(ImageOps.exif_transpose(image.crop(box)))
    except _DECODE_ERRORS as exc:
        problem = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise ImageRejected(f"the image data is {problem} ({exc})", name) from exc


def open_image_bytes(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    name: str | None = None,
) -> Image.Image:
    """Open untrusted image bytes as an RGB image (size- and bomb-checked, orientation applied)."""
    image = probe_image_bytes(data, max_bytes=max_bytes, max_pixels=max_pixels, name=name)
    return decode_rgb(image, name=name)


def open_image_file(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> Image.Image:
    """Open an image file as an RGB image; its size is checked before it is read."""
    data = read_image_file(path, max_bytes=max_bytes)
    return open_image_bytes(data, max_bytes=max_bytes, max_pixels=max_pixels, name=str(path))
