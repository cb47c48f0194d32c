"""Texture statistics (texture.py): deterministic, of the documented length, and telling a striped patch
from a flat one by the spectral peakiness."""

from __future__ import annotations

import numpy as np
from PIL import Image

from fashionlens.core.records import Box
from fashionlens.inference.colors import dominant_color
from fashionlens.inference.texture import LENGTH, PEAKINESS, texture_features


def striped(size: int = 120, period: int = 12) -> Image.Image:
    """Vertical stripes, dark and light, `period` pixels a pair."""
    row = np.where((np.arange(size) // (period // 2)) % 2 == 0, 30, 220).astype(np.uint8)
    return Image.fromarray(np.repeat(np.tile(row, (size, 1))[:, :, None], 3, axis=2))


def noisy(size: int = 120, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_the_features_have_the_documented_length_and_are_deterministic():
    assert LENGTH == (8 + 2) + (16 + 2) + (24 + 2) + 9 + 9 + 5 + 2 + 1 == 80
    image, box = noisy(), Box(7.5, 3.0, 101.2, 88.9)
    first = texture_features(image, box)
    assert first.shape == (LENGTH,) and first.dtype == np.float64 and np.isfinite(first).all()
    assert np.array_equal(first, texture_features(image.copy(), box))
    assert np.array_equal(texture_features(image), texture_features(image, Box(0, 0, 120, 120)))
    # each LBP histogram is a density over its bins of width one: it sums to one
    assert np.allclose([first[:10].sum(), first[10:28].sum(), first[28:54].sum()], 1.0)


def test_a_striped_patch_is_spectrally_peaky_and_a_flat_one_is_not():
    stripes = texture_features(striped())
    flat = texture_features(Image.new("RGB", (120, 120), (40, 70, 220)))
    noise = texture_features(noisy())
    assert np.all(stripes[PEAKINESS] > 0.5) and np.all(flat[PEAKINESS] == 0.0)
    assert np.all(noise[PEAKINESS] < 0.1)  # texture without a period is not peaky either
    assert stripes[-1] > 1.0 and flat[-1] == 0.0  # the grey level's spread


def test_a_tiny_box_and_a_mirrored_garment_are_handled():
    image = striped()
    assert np.isfinite(texture_features(image, Box(5.0, 5.0, 5.4, 5.2))).all()  # less than a pixel inside
    plain, mirrored = texture_features(noisy(), mirrored=False), texture_features(noisy(), mirrored=True)
    # LBP histograms, bands, peakiness and spread do not change under a mirror; HOG orientations do
    assert np.allclose(plain[:54], mirrored[:54]) and np.allclose(plain[72:], mirrored[72:])


def test_the_colour_step_carries_the_texture_of_the_garments_box():
    image, box = striped(), Box(10, 10, 110, 110)
    assert np.array_equal(dominant_color(image, box).texture, texture_features(image, box))
