"""User-facing errors: the CLI prints them on one line, the service as a 4xx JSON body."""

from __future__ import annotations

from pathlib import Path


class FashionLensError(Exception):
    """An error caused by the user's input (a file, an option), not by a bug."""


class DataFormatError(FashionLensError):
    """A data file that does not follow its format; names the file and the 1-based physical line."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = Path(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


class ImageError(FashionLensError):
    """An image that cannot be used: missing, empty, truncated, not an image, or too large."""

    def __init__(self, path: str | Path, message: str):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}")


class ImageTooLarge(ImageError):
    """An image over the pixel limit: the service answers 413 (too large), not 422 (unusable)."""
