"""The one safe way to open an image: EXIF orientation, any mode to RGB, a pixel limit, clear errors."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fashionlens.core.errors import ImageError, ImageTooLarge

# 40 megapixels: larger than any camera photo a shop receives, far below a decompression bomb.
MAX_PIXELS = 40_000_000
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
# The detector scales a photo's longer side to its input (416 px by default): past this ratio of the
# longer to the shorter side the other side shrinks to a few pixels, and a 10000x20 photo to none at all
# (PyTorch's resize fails). No garment photo is this elongated.
MAX_ASPECT_RATIO = 20


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
    draft_size: tuple[int, int] | None = None,
    max_aspect_ratio: float = MAX_ASPECT_RATIO,
) -> Image.Image:
    """Open `source` (a path or the file's bytes) as an upright RGB image.

    `name` is used in error messages for bytes (an upload's file name). `draft_size` lets JPEG
    decode at a reduced scale when only a small image is needed (much faster for large photos).
    Raises ImageError naming the file for anything that is not a usable image.
    """
    return load_image_with_size(
        source, max_pixels=max_pixels, name=name, draft_size=draft_size, max_aspect_ratio=max_aspect_ratio
    )[0]


def load_image_with_size(
    source: str | Path | bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
    draft_size: tuple[int, int] | None = None,
    max_aspect_ratio: float = MAX_ASPECT_RATIO,
) -> tuple[Image.Image, tuple[int, int]]:
    """load_image(), and the photo's full upright size (width, height).

    With `draft_size` a JPEG may decode at 1/2, 1/4 or 1/8 scale (Pillow's draft mode: the decoder
    skips the fine DCT coefficients, never going below `draft_size` on either side); the full size
    lets results found on the smaller image be reported in the original photo's pixels.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "<upload>")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(label, "file not found")
        data = path.read_bytes()
    else:
        data = source
    if not data:
        raise ImageError(label, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(label, f"image too large ({width}x{height} pixels, limit {max_pixels})")
            check_aspect_ratio(label, width, height, max_aspect_ratio)
            orientation = image.getexif().get(0x0112, 1)
            if draft_size is not None and image.format == "JPEG":
                image.draft("RGB", draft_size)
            image.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(label, "not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(label, "image too large (decompression bomb limit)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(label, f"corrupt or truncated image ({error})") from None
    full_size = (height, width) if orientation in ROTATED else (width, height)
    return to_rgb(ImageOps.exif_transpose(image)), full_size


def check_aspect_ratio(label: str, width: int, height: int, limit: float = MAX_ASPECT_RATIO) -> None:
    """ImageError for a photo whose longer side is more than `limit` times its shorter (read from the
    header, before decoding)."""
    ratio = max(width, height) / max(min(width, height), 1)
    if ratio > limit:
        raise ImageError(
            label,
            f"extreme aspect ratio ({width}x{height} pixels, {ratio:.0f}:1; the longer side "
            f"may be at most {limit:g} times the shorter)",
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited onto white, 16-bit scaled to 8."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        gray = np.clip(array / peak * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def image_size(path: str | Path) -> tuple[int, int]:
    """Width and height from the header only (upright, after EXIF orientation), without decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # callers compare to MAX_PIXELS
            with Image.open(path) as image:
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except UnidentifiedImageError:
        empty = Path(path).is_file() and Path(path).stat().st_size == 0
        reason = "empty file (0 bytes)" if empty else "unrecognised format"
        raise ImageError(path, f"not a readable image: {reason}") from None
    except Image.DecompressionBombError:
        raise ImageError(path, "not a readable image: too large (decompression bomb limit)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(path, f"not a readable image ({error})") from None
    return (height, width) if orientation in ROTATED else (width, height)
