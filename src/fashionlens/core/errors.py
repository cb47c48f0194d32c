"""User-facing errors: the CLI prints them on one line, the service as a 4xx JSON body."""

from __future__ import annotations

import errno
import sqlite3
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


class DiskFull(FashionLensError):
    """The disk filled up while writing: nothing half-written was kept (the service answers 507)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path is not None else None
        super().__init__(f"disk full writing {path}" if path is not None else "disk full")


# SQLite's result code for "database or disk is full" (sqlite3.SQLITE_FULL on Python 3.11+).
SQLITE_FULL = 13


def is_disk_full(error: BaseException | None) -> bool:
    """True when `error`, or an error it was raised from, is a full disk: OSError ENOSPC / EDQUOT,
    or SQLite's "database or disk is full". Follows __cause__ and __context__ because libraries
    often re-raise the OS error as their own."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFull):
            return True
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(error, sqlite3.Error) and (
            getattr(error, "sqlite_errorcode", None) == SQLITE_FULL or "database or disk is full" in str(error)
        ):
            return True
        error = error.__cause__ or error.__context__
    return False
