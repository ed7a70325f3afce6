"""display_image: any aspect ratio comes out drawable by st.image (no side under 1 px, none past Streamlit's resize)."""

import pytest
from PIL import Image
from streamlit.elements.lib.image_utils import MAXIMUM_CONTENT_WIDTH

from geovis.thumbnails import MAX_DISPLAY_SIDE, display_image


def test_images_are_sized_below_the_width_streamlit_would_resize_them_at():
    assert MAX_DISPLAY_SIDE < MAXIMUM_CONTENT_WIDTH  # Streamlit's own resize rounds a flat image's height to 0


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        ((20_000, 1), (1024, 1)),
        ((2_000, 1), (1024, 1)),
        ((1, 20_000), (1, 1024)),
        ((3_000, 2_000), (1024, 683)),
        ((1_024, 1), (1024, 1)),
    ],
    ids=["20000x1", "2000x1", "1x20000", "photo", "fits"],
)
def test_large_images_shrink_to_the_display_side_and_keep_at_least_a_pixel(size, shown):
    assert display_image(Image.new("RGB", size), min_side=160).size == shown


def test_small_chips_are_enlarged_crisply_within_the_display_side():
    chip = Image.new("RGB", (32, 32))
    chip.putpixel((0, 0), (255, 0, 0))
    big = display_image(chip, min_side=160)
    assert big.size == (160, 160) and big.getpixel((4, 4)) == (255, 0, 0), "nearest neighbour, factor 5"
    assert display_image(Image.new("RGB", (40, 2)), min_side=160).size == (1000, 50), "the long side caps the factor"
    assert display_image(Image.new("RGB", (2_000, 1)), min_side=160).size == (1024, 1), "never enlarged past the cap"
    assert display_image(chip) is chip, "already fits"
