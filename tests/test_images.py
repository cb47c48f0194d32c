"""The one safe image loader: EXIF orientation, every mode to RGB, the pixel limit, one clear error per bad file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import ImageError
from fashionlens.core.images import image_size, load_image, load_image_with_size


def save_with_orientation(path: Path, orientation: int) -> Path:
    """A 40x20 JPEG whose left half is red and right half blue, stored with an EXIF orientation tag."""
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, quality=95)
    return path


def test_draft_decodes_a_large_jpeg_smaller_and_tells_the_full_upright_size(tmp_path: Path):
    path = tmp_path / "large.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 400x200, shown 200x400
    Image.new("RGB", (400, 200), (0, 0, 255)).save(path, exif=exif, quality=95)
    image, full_size = load_image_with_size(path, draft_size=(50, 50))
    assert full_size == (200, 400) and image.size == (50, 100)  # 1/4 scale: both sides stay >= 50
    assert load_image_with_size(path)[1] == (200, 400) and load_image(path).size == (200, 400)
    png = tmp_path / "large.png"
    Image.new("RGB", (400, 200)).save(png)
    assert load_image_with_size(png, draft_size=(50, 50))[0].size == (400, 200)  # draft is JPEG only


def test_exif_orientation_is_applied(tmp_path: Path):
    path = save_with_orientation(tmp_path / "rotated.jpg", 6)  # 6: the camera was turned 90 degrees
    image = load_image(path)
    assert image.size == (20, 40)
    pixels = np.asarray(image)
    # Orientation 6 rotates clockwise: the red left half ends on top.
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 2] < 60
    assert pixels[35, 10, 2] > 200 and pixels[35, 10, 0] < 60
    assert image_size(path) == (20, 40)  # header read agrees, without decoding


def test_upright_image_keeps_its_size(tmp_path: Path):
    path = save_with_orientation(tmp_path / "upright.jpg", 1)
    assert load_image(path).size == (40, 20)
    assert image_size(path) == (40, 20)


@pytest.mark.parametrize("mode, suffix", [("L", ".png"), ("P", ".png"), ("CMYK", ".jpg"), ("RGBA", ".png")])
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str, suffix: str):
    path = tmp_path / f"image{suffix}"
    Image.new("RGB", (8, 6), (200, 200, 200)).convert(mode).save(path)
    image = load_image(path)
    assert (image.mode, image.size) == ("RGB", (8, 6))
    assert abs(int(np.asarray(image)[0, 0, 0]) - 200) <= 6  # JPEG (CMYK) is lossy


def test_transparency_is_composited_on_white(tmp_path: Path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(path)
    assert np.asarray(load_image(path))[0, 0].tolist() == [255, 255, 255]


def test_16_bit_grayscale_is_scaled_to_8_bits(tmp_path: Path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    image = load_image(path)
    assert image.mode == "RGB"
    assert np.asarray(image)[0, 0].tolist() == [255, 255, 255]


def test_bytes_are_loaded_and_errors_use_the_given_name():
    buffer = io.BytesIO()
    Image.new("RGB", (5, 3), (1, 2, 3)).save(buffer, format="PNG")
    assert load_image(buffer.getvalue()).size == (5, 3)
    with pytest.raises(ImageError, match="^upload.jpg: not an image"):
        load_image(b"hello", name="upload.jpg")


def test_pixel_limit_stops_decompression_bombs(tmp_path: Path):
    path = tmp_path / "big.png"
    Image.new("L", (200, 100)).save(path)
    with pytest.raises(ImageError, match=r"too large \(200x100 pixels, limit 10000\)") as error:
        load_image(path, max_pixels=10_000)
    assert str(error.value).startswith(str(path))
    assert load_image(path, max_pixels=20_000).size == (200, 100)


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"not an image at all", "not an image"),
        (jpeg_bytes()[:400], "corrupt or truncated"),
        (jpeg_bytes()[:2] + b"\x00" * 600, "not an image|corrupt"),
    ],
)
def test_bad_files_raise_one_error_naming_the_file(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as error:
        load_image(path)
    assert str(error.value).startswith(f"{path}: ")
    assert "\n" not in str(error.value)


def test_missing_file(tmp_path: Path):
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "absent.jpg")
    with pytest.raises(ImageError, match="file not found"):
        image_size(tmp_path / "absent.jpg")


@pytest.mark.parametrize("content, reason", [(b"", "empty file (0 bytes)"), (b"GIF? no", "unrecognised format")])
def test_image_size_rejects_non_images(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError) as error:
        image_size(path)
    assert str(error.value) == f"{path}: not a readable image: {reason}"


def test_image_size_turns_pillows_bomb_error_into_an_image_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "bomb.png"
    Image.new("L", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses above twice this
    with pytest.raises(ImageError, match="decompression bomb"):
        image_size(path)
