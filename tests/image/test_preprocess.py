"""Preprocessing: every PIL mode, EXIF orientation, uint8 batches, each model's normalisation."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from core.image.preprocess import (
    Preprocessing,
    efficientnet_lite_preprocessing,
    imagenet_preprocessing,
    preprocess,
    to_rgb_array,
    unit_preprocessing,
)


def _reopen(image: Image.Image, format: str = "PNG", **save_args) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **save_args)
    return Image.open(io.BytesIO(buffer.getvalue()))


def test_rgba_is_composited_on_white() -> None:
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))
    rgb = to_rgb_array(_reopen(image))
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[1, 1].tolist() == [255, 0, 0]


def test_grayscale_is_replicated_to_three_channels() -> None:
    rgb = to_rgb_array(_reopen(Image.new("L", (3, 5), 77)))
    assert rgb.shape == (5, 3, 3)
    assert (rgb == 77).all()


def test_16_bit_is_scaled_to_8_bit() -> None:
    values = np.array([[0, 257 * 100], [65535, 257 * 200]], dtype=np.uint16)
    image = _reopen(Image.fromarray(values))
    assert image.mode.startswith("I")
    rgb = to_rgb_array(image)
    assert rgb[..., 0].tolist() == [[0, 100], [255, 200]]
    assert (rgb[..., 0:1] == rgb).all()


def test_palette_image_uses_its_palette() -> None:
    image = Image.new("P", (2, 2))
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    image.putpixel((1, 0), 1)
    rgb = to_rgb_array(_reopen(image))
    assert rgb[0, 1].tolist() == [10, 200, 30]
    assert rgb[0, 0].tolist() == [0, 0, 0]


def test_exif_orientation_6_rotates_clockwise() -> None:
    stored = Image.new("RGB", (40, 20), (0, 0, 0))
    stored.paste((255, 0, 0), (0, 0, 4, 4))  # marker at the stored top-left
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    rgb = to_rgb_array(_reopen(stored, exif=exif))
    assert rgb.shape == (40, 20, 3)  # portrait now
    assert (rgb[:4, -4:] == [255, 0, 0]).all()  # the marker moved to the top-right
    assert (rgb[:4, :4] == 0).all()


def test_batch_of_arrays_shape_dtype_and_ranges() -> None:
    chips = np.zeros((3, 32, 32, 3), dtype=np.uint8)
    chips[1] = 255
    lite = preprocess(chips, efficientnet_lite_preprocessing(64))
    assert lite.shape == (3, 3, 64, 64) and lite.dtype == torch.float32
    assert torch.allclose(lite[0], torch.tensor(-127 / 128)) and torch.allclose(lite[1], torch.tensor(1.0))
    unit = unit_preprocessing(32)(chips)
    assert unit.min() == 0.0 and unit.max() == 1.0
    resnet = imagenet_preprocessing(32)(chips[1:2])
    expected = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(resnet[0, :, 5, 5], expected)


def test_read_only_memory_map_is_accepted(tmp_path) -> None:
    np.save(tmp_path / "chips.npy", np.full((2, 8, 8, 3), 9, dtype=np.uint8))
    chips = np.load(tmp_path / "chips.npy", mmap_mode="r")
    out = unit_preprocessing(8)(chips[0:2])
    assert torch.allclose(out, torch.tensor(9 / 255))


def test_images_of_different_sizes_and_modes_form_one_batch() -> None:
    images = [Image.new("RGB", (50, 30), (10, 20, 30)), Image.new("L", (16, 16), 5), Image.new("RGBA", (7, 9))]
    out = preprocess(images, efficientnet_lite_preprocessing(24))
    assert out.shape == (3, 3, 24, 24)
    assert torch.isfinite(out).all()


def test_centre_crop_keeps_the_middle_of_a_wide_image() -> None:
    wide = np.zeros((1, 10, 30, 3), dtype=np.uint8)
    wide[:, :, 10:20] = 255  # the central square is white, the sides black
    out = unit_preprocessing(10)(wide)
    assert torch.equal(out, torch.ones_like(out))


def test_crop_fraction_trims_the_border() -> None:
    framed = np.zeros((1, 16, 16, 3), dtype=np.uint8)
    framed[:, 2:14, 2:14] = 200
    out = preprocess(framed, Preprocessing(12, (0.0,) * 3, (1.0,) * 3, crop_fraction=0.75))
    assert torch.allclose(out, torch.tensor(200.0))


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        preprocess(np.zeros((2, 8, 8), dtype=np.uint8), unit_preprocessing(8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        preprocess(np.zeros((1, 8, 8, 3), dtype=np.float32), unit_preprocessing(8))


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(1, 40), st.just(3))))
def test_any_uint8_batch_maps_into_the_unit_range(chips: np.ndarray) -> None:
    out = unit_preprocessing(16)(chips)
    assert out.shape == (len(chips), 3, 16, 16)
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
