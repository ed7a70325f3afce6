"""Which part of a dataset image is encoded: the labelled object's box with context, or a centre square.

fMoW labels describe an object's box (``bounding_boxes`` → :data:`core.data.base.CROP_COLUMNS`), not
the whole image. The official fMoW baseline (``fMoW/baseline``, ``data_ml_functions/dataFunctions.py``)
crops each box with context that grows as the box shrinks relative to the image: the box is widened
by ``side × m / 2`` on each side, ``m`` = 0.15 when the box spans ≥ 50 % of the image, 0.2 from 40 %,
0.3 from 30 %, 0.5 from 20 %, 1 from 10 % and 2 below (width and height separately; clamped to the
image), then resized to the network's square input. That schedule is :data:`FMOW_CONTEXT`, the
default. (The baseline divides the box width by the image's *row* count and the height by its column
count; we compare each side with the same side of the image.) A fixed ``context`` ``m`` applies the
same margin to every box. A record without a box, or any record with ``use_box=False``, is encoded
as its centre square (the encoder's ``crop_fraction`` of the shorter side).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from core.data.images import Region, decode_region, probe_dataset_file

#: The fMoW baseline's context schedule as (smallest box/image ratio, context multiplier), largest first.
FMOW_CONTEXT_STEPS = ((0.5, 0.15), (0.4, 0.2), (0.3, 0.3), (0.2, 0.5), (0.1, 1.0), (0.0, 2.0))
#: Name of the baseline's size-dependent context schedule.
FMOW_CONTEXT = "fmow"


@dataclass(frozen=True)
class CropOptions:
    """How records with an object box are cropped: ``use_box`` and the ``context`` (``"fmow"`` or a multiplier ≥ 0)."""

    use_box: bool = True
    context: str | float = FMOW_CONTEXT

    def __post_init__(self) -> None:
        if isinstance(self.context, str):
            if self.context != FMOW_CONTEXT:
                raise ValueError(f"context must be {FMOW_CONTEXT!r} or a number ≥ 0, got {self.context!r}")
        elif not (math.isfinite(self.context) and self.context >= 0):
            raise ValueError(f"context must be {FMOW_CONTEXT!r} or a number ≥ 0, got {self.context!r}")

    @classmethod
    def parse(cls, context: str, use_box: bool = True) -> CropOptions:
        """Options from command-line text: ``context`` is ``"fmow"`` or a number."""
        if context == FMOW_CONTEXT:
            return cls(use_box, FMOW_CONTEXT)
        try:
            return cls(use_box, float(context))
        except ValueError:
            raise ValueError(f"context must be {FMOW_CONTEXT!r} or a number ≥ 0, got {context!r}") from None

    def key(self) -> dict:
        """The options as plain data (part of the feature-cache identity)."""
        return asdict(self)


def context_multiplier(box_side: float, image_side: int, context: str | float) -> float:
    """The context multiplier ``m`` of one box side (the baseline's schedule, or the fixed value)."""
    if context != FMOW_CONTEXT:
        return float(context)
    ratio = box_side / image_side
    return next(multiplier for threshold, multiplier in FMOW_CONTEXT_STEPS if ratio >= threshold)


def box_region(box: np.ndarray, image_size: tuple[int, int], context: str | float) -> Region:
    """The box ``x, y, w, h`` widened by its context and clamped to the image, as ``(left, top, right, bottom)``."""
    width, height = image_size
    x, y, w, h = (float(v) for v in box)
    pad_x = int(w * context_multiplier(w, width, context) / 2)
    pad_y = int(h * context_multiplier(h, height, context) / 2)
    left, top = max(0, int(x) - pad_x), max(0, int(y) - pad_y)
    right, bottom = min(width, int(x + w) + pad_x), min(height, int(y + h) + pad_y)
    return left, top, right, bottom


def centre_square(image_size: tuple[int, int], crop_fraction: float) -> Region:
    """The centre square of ``crop_fraction`` of the shorter side."""
    width, height = image_size
    side = max(1, round(min(width, height) * crop_fraction))
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def decode_square(path: str, box: np.ndarray | None, size: int, crop_fraction: float, options: CropOptions) -> np.ndarray:
    """uint8 ``[size, size, 3]`` of a dataset image: its box with context (stretched, as the baseline
    does) or its centre square, decoded at the smallest JPEG scale that keeps ``size`` pixels.

    ``box`` is ``x, y, w, h`` in pixels (NaN or None: no box). Raises :class:`core.data.images.ImageRejected`.
    """
    image = probe_dataset_file(path)
    has_box = options.use_box and box is not None and bool(np.isfinite(box).all())
    region = box_region(box, image.size, options.context) if has_box else centre_square(image.size, crop_fraction)
    with image:
        square = decode_region(image, region, size, name=path)
    return np.asarray(square.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None))
