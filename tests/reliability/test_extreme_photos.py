"""Photos of extreme aspect ratio (10000x20, 20x10000): refused from their header with the limit named, in
one line of the command line and a 422 of the service (test_http.py); photos within the limit are
analysed, and the detector's resize keeps them at least a few pixels high."""

from __future__ import annotations

import pytest
from PIL import Image

from fashionlens.core.checkpoint import save_checkpoint
from fashionlens.core.errors import ImageError
from fashionlens.core.images import MAX_ASPECT_RATIO, load_image
from fashionlens.data.detection import detection_transform
from service_testing import photo_bytes
from tiny_models import random_checkpoint

DEFAULT_DETECTOR_SIZE = 416  # the shipped detector's longer side


@pytest.mark.parametrize("size", [(10000, 20), (20, 10000), (2000, 3), (21, 1), (1, 21)])
def test_elongated_photos_are_refused_with_the_limit(size):
    with pytest.raises(ImageError) as refused:
        load_image(photo_bytes(size=size, fmt="PNG"), name="banner.png")
    message = str(refused.value)
    assert message.startswith(f"banner.png: extreme aspect ratio ({size[0]}x{size[1]} pixels")
    assert f"at most {MAX_ASPECT_RATIO} times" in message


@pytest.mark.parametrize("size", [(400, 20), (20, 400), (20, 1), (1, 1), (3000, 2000)])
def test_photos_within_the_limit_load_and_keep_a_side_for_the_detector(size):
    image = load_image(photo_bytes(size=size, fmt="PNG"))
    pixels = detection_transform(DEFAULT_DETECTOR_SIZE, train=False)(image)
    assert min(pixels.shape[1:]) >= DEFAULT_DETECTOR_SIZE // MAX_ASPECT_RATIO or min(size) == max(size)


@pytest.mark.slow
def test_analyze_refuses_an_elongated_photo_in_one_line(tmp_path, fashionlens):
    save_checkpoint(random_checkpoint(), tmp_path / "classifier.pt")
    Image.new("RGB", (10000, 20), (200, 30, 30)).save(tmp_path / "wide.png")
    done = fashionlens("analyze", tmp_path / "wide.png", "--classifier", tmp_path / "classifier.pt", "--whole-image")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'wide.png'}: extreme aspect ratio (10000x20 pixels, 500:1; the longer side may be at "
        f"most {MAX_ASPECT_RATIO} times the shorter)"
    ]
