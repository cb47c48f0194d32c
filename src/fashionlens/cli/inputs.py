"""The photos `analyze` and `recommend` take: files, folders (recursively, image files only) and globs.

A bad input among many is reported on stderr and skipped; the command processes the rest and ends with a
count and a non-zero exit (finish()), as batch tools do, so that one typo never costs the whole run.
"""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import typer

# what a folder contributes: the formats load_image reads; other files (CSV, JSON...) are skipped
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
GLOB_CHARACTERS = frozenset("*?[")


@dataclass
class PhotoRun:
    """The photos a command was given, and what failed on the way (one message per failed input)."""

    photos: list[Path]
    failures: list[str] = field(default_factory=list)
    requested: int = 0  # photos found + inputs that named none

    def fail(self, message: str) -> None:
        """A photo that could not be used: one line on stderr now, counted in finish()."""
        from tqdm import tqdm

        self.failures.append(message)
        # through tqdm: a progress bar on stderr is cleared first, so the error gets a line of its own
        tqdm.write(f"error: {message}", file=sys.stderr)


def photo_inputs(inputs: list[Path], warn: Callable[[str], None]) -> PhotoRun:
    """Files as given, folders walked (image files only, sorted), globs expanded (sorted); an input that
    names nothing is a failure, a non-image file inside a folder a warning."""
    run = PhotoRun([])
    for given in inputs:
        if given.is_file():
            run.photos.append(given)
        elif given.is_dir():
            found = folder_photos(given, warn)
            run.photos += found
            if not found:
                run.fail(f"{given}: no image files in this folder")
        elif GLOB_CHARACTERS & set(str(given)):
            matches = sorted(Path(match) for match in glob.glob(str(given), recursive=True))
            files = [match for match in matches if match.is_file()]
            run.photos += files
            if not files:
                run.fail(f"{given}: no file matches")
        else:
            run.fail(f"{given}: file not found")
    run.requested = len(run.photos) + len(run.failures)
    return run


def folder_photos(folder: Path, warn: Callable[[str], None]) -> list[Path]:
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))
    photos = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            warn(f"warning: {path}: skipped, not an image file")
    return photos


def finish(run: PhotoRun) -> None:
    """After the results: with any failure, the count on stderr and exit 1 (2 when nothing worked);
    a single photo's own error line says it all."""
    if not run.failures:
        return
    done = run.requested - len(run.failures)
    if run.requested > 1:
        typer.echo(f"{done} of {run.requested} photos analysed; {len(run.failures)} failed", err=True)
    raise SystemExit(1 if done else 2)
