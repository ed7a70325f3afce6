"""MoCo-v2 augmentations in plain torch: shapes, ranges, seeded, each transform does what it says."""

import torch

from core.image.augment import AugmentConfig, augment, gaussian_blur, grayscale, horizontal_flip, random_resized_crop


def images(n=8, size=16):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_augment_is_seeded_in_range_and_varies_per_sample():
    x = images()
    a = augment(x, AugmentConfig(), torch.Generator().manual_seed(1))
    b = augment(x, AugmentConfig(), torch.Generator().manual_seed(1))
    c = augment(x, AugmentConfig(), torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    same_input = augment(x[:1].expand(4, -1, -1, -1), AugmentConfig(), torch.Generator().manual_seed(3))
    assert not torch.allclose(same_input[0], same_input[1]), "each sample draws its own parameters"


def test_full_crop_is_identity_and_flip_mirrors():
    x = images()
    full = random_resized_crop(x, (1.0, 1.0), (1.0, 1.0), torch.Generator().manual_seed(0))
    assert torch.allclose(full, x, atol=1e-5)
    assert torch.equal(horizontal_flip(x, 1.0, torch.Generator()), x.flip(3))
    assert torch.equal(horizontal_flip(x, 0.0, torch.Generator()), x)


def test_grayscale_and_blur():
    g = grayscale(images())
    assert torch.allclose(g[:, 0], g[:, 1]) and torch.allclose(g[:, 1], g[:, 2])
    flat = torch.full((2, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(flat, 1.0, (0.5, 2.0), torch.Generator()), flat, atol=1e-6)
    noisy = images(2)
    assert gaussian_blur(noisy, 1.0, (1.5, 2.0), torch.Generator()).std() < noisy.std()
