"""Images sized for the page, whatever their aspect ratio.

``st.image`` shrinks an image wider than its largest content width (1 460 px) and rounds the new height
down, so a 2 000 x 1 photo becomes 1 460 x 0 and raises ``height and width must be > 0`` on every rerun.
Every user image goes through :func:`display_image` first: its longer side is then at most
:data:`MAX_DISPLAY_SIDE` and no side is under one pixel, so Streamlit never resizes it.
"""

from __future__ import annotations

import math

from PIL import Image

#: Longest side of an image drawn in the page, below ``st.image``'s own resizing threshold (1 460 px).
MAX_DISPLAY_SIDE = 1024


def display_image(image: Image.Image, *, min_side: int = 1, max_side: int = MAX_DISPLAY_SIDE) -> Image.Image:
    """``image`` resized for display, aspect ratio kept (each side rounded, never under 1 px).

    A longer side over ``max_side`` is shrunk to it (bilinear); otherwise a small image is enlarged crisply
    (an integer factor, nearest neighbour) until its shorter side reaches ``min_side``, as far as the longer
    side stays within ``max_side``. Returns ``image`` itself when it already fits.
    """
    width, height = image.size
    longest, shortest = max(width, height), min(width, height)
    if longest > max_side:
        scale = max_side / longest
        return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
    factor = min(math.ceil(min_side / shortest), max_side // longest)
    if factor > 1:
        return image.resize((width * factor, height * factor), Image.NEAREST)
    return image
