"""Catalogue imports from uploaded files only: a zip (products.csv + the photos it names) or a CSV with
its photos. Nothing outside the upload is read: zip entries and CSV image paths that are absolute or
climb out with '..' refuse the whole import (zip slip). Photos are kept in `<media_dir>/products/` by
content (the same photo uploaded twice is one file, so importing again leaves items unchanged); the
catalogue is written by the importer in one transaction."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import sqlite3
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from fashionlens.core.errors import DiskFull, FashionLensError, is_disk_full
from fashionlens.core.files import atomic_write
from fashionlens.service.handlers import DISK_FULL_MESSAGE, DISK_FULL_STATUS
from fashionlens.service.limits import size_text

log = logging.getLogger("fashionlens.service")

MAX_ENTRIES = 100_000
SKIPPED_FOLDERS = ("__MACOSX",)  # macOS resource forks inside zips made by Finder


class TooLarge(FashionLensError):
    """An archive that unpacks beyond the import limit (413)."""


@dataclass
class Staging:
    """An import's private folder: the CSV as uploaded, each photo a link to its kept file."""

    folder: Path
    media: Path
    created: list[Path]  # kept photo files this import wrote (removed again when no item uses them)

    def relative_parts(self, name: str, source: str) -> tuple[str, ...]:
        """An upload's path as safe parts; absolute paths and '..' are refused."""
        parts = tuple(part for part in re.split(r"[\\/]", name) if part not in ("", "."))
        if re.match(r"^([\\/]|[A-Za-z]:)", name) or ".." in parts or not parts:
            raise FashionLensError(
                f"{source}: entry {name!r} would land outside the import (absolute path or '..'); nothing imported"
            )
        return parts

    def add_photo(self, parts: tuple[str, ...], data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        suffix = PurePosixPath(parts[-1]).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,6}", suffix) else ""
        kept = self.media / "products" / digest[:2] / (digest + suffix)
        if not kept.exists():
            atomic_write(kept, lambda temporary: temporary.write_bytes(data))
            self.created.append(kept)
        link = self.folder.joinpath(*parts)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        # the importer records the resolved path, i.e. the kept file, never this temporary folder
        link.symlink_to(kept)

    def add_csv(self, parts: tuple[str, ...], data: bytes) -> Path:
        path = self.folder.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def public(self, message: str) -> str:
        """A message without the server's folders: paths as the upload named them."""
        return message.replace(f"{self.folder}{os.sep}", "").replace(str(self.folder), ".")


def open_staging(media: Path) -> Staging:
    folder = media / ".staging" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return Staging(folder, media, [])


def is_csv(name: str) -> bool:
    return name.lower().endswith(".csv")


def stage_archive(staging: Staging, name: str, data: bytes, limit: int) -> Path:
    """Unpack a zip into `staging`; the product CSV's path (products.csv, else the archive's one CSV)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise FashionLensError(f"{name}: not a zip archive") from None
    entries = [e for e in archive.infolist() if not e.is_dir() and e.filename.split("/")[0] not in SKIPPED_FOLDERS]
    parts = [staging.relative_parts(entry.filename, name) for entry in entries]  # every entry checked first
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > limit or len(entries) > MAX_ENTRIES:
        raise TooLarge(
            f"{name}: unpacks to {size_text(unpacked)} in {len(entries)} files, over the import "
            f"limit of {size_text(limit)}"
        )
    csvs = [p for p in parts if is_csv(p[-1])]
    chosen = [p for p in csvs if p[-1].lower() == "products.csv"] or csvs
    if len(chosen) != 1:
        raise FashionLensError(f"{name}: expected one products.csv in the archive, found {len(chosen)}")
    csv_path = None
    for entry, entry_parts in zip(entries, parts):
        try:
            content = archive.read(entry)  # at most file_size bytes, CRC checked
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, NotImplementedError) as error:
            if is_disk_full(error):
                raise
            raise FashionLensError(f"{name}: entry {entry.filename!r} cannot be read ({error})") from None
        if entry_parts == chosen[0]:
            csv_path = staging.add_csv(entry_parts, content)
        elif not is_csv(entry_parts[-1]):
            staging.add_photo(entry_parts, content)
    assert csv_path is not None  # the chosen CSV is one of the entries
    return csv_path


def stage_files(staging: Staging, csv_name: str, csv_data: bytes, photos: list[tuple[str, bytes]]) -> Path:
    """A CSV and its photos uploaded side by side: the CSV's image column names the photos' file names."""
    for photo_name, data in photos:
        staging.add_photo(staging.relative_parts(photo_name, photo_name), data)
    return staging.add_csv(staging.relative_parts(csv_name, csv_name)[-1:], csv_data)


def check_image_paths(csv_path: Path, staging: Staging) -> None:
    """Every CSV image path must stay inside the upload: never read a file of the server."""
    from fashionlens.catalog.importer import read_product_csv

    rows, _ = read_product_csv(csv_path)
    root = os.path.normpath(staging.folder)
    for row in rows:
        resolved = os.path.normpath(row.image)
        if os.path.commonpath([root, resolved]) != root:
            given = str(row.image)
            if given.startswith(str(csv_path.parent)):  # a relative path: show it as the CSV wrote it
                given = os.path.relpath(given, csv_path.parent)
            raise FashionLensError(
                f"{csv_path.name}:{row.line}: image {given!r} is outside the upload "
                "(absolute path or '..'); nothing imported"
            )


def remove_unused(staging: Staging, used: set[str]) -> None:
    """Photos this import kept that no item uses (refused rows, a refused import)."""
    for path in staging.created:
        if str(path.resolve()) not in used:
            path.unlink(missing_ok=True)


def forget_photo(media: Path, image: str, store: Any) -> None:
    """Delete a removed product's photo when an upload put it in `<media>/products/` and no item uses it
    any more; photos imported from the server's own folders (`fashionlens catalog import`) are never touched."""
    path, kept = Path(image).resolve(), (media / "products").resolve()
    if path.is_relative_to(kept) and not store.uses_image(image):
        path.unlink(missing_ok=True)


def remove_leftovers(media: Path) -> None:
    """The staging folders of imports whose worker stopped: only one import runs at a time (the
    catalogue's imports_one_running), so once it has begun, every other staging folder is a leftover."""
    for folder in (media / ".staging").glob("*"):
        shutil.rmtree(folder, ignore_errors=True)


def close_staging(staging: Staging) -> None:
    shutil.rmtree(staging.folder, ignore_errors=True)


class ProductPhotos:
    """The service's analyzer with its detector skipped: each product photo is one product. Flat-lay
    photos (a shoe on white) must not be cut into whatever the detector thinks it sees there."""

    def __init__(self, analyzer: Any):
        self._analyzer = analyzer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._analyzer, name)

    def analyze(self, images: list, names: list[str], full_sizes: list | None = None) -> list:
        return self._analyzer.analyze(images, names, full_sizes, whole_image=True)

    @property
    def description(self) -> dict[str, Any]:
        """What the catalogue records as its model: the same embedding model, no detector."""
        return {**self._analyzer.description, "detector": None}


def import_staged(catalog: Path | str, staging: Staging, stage: Callable[[Staging], Path], analyzer) -> tuple[Any, set]:
    """(the import's report, the photos the catalogue now uses) after `stage` filled the staging folder."""
    from fashionlens.catalog.importer import import_products
    from fashionlens.catalog.stores import open_store

    try:
        csv_path = stage(staging)
    except OSError as error:  # entries that cannot coexist on disk (a file and a folder of one name)
        if is_disk_full(error):
            raise
        raise FashionLensError(f"the upload cannot be unpacked ({error.strerror or error})") from None
    check_image_paths(csv_path, staging)
    store = open_store(catalog, create=True)
    try:
        report = import_products(csv_path, store, analyzer)
        return report, {item.image for item in store.find_items()}
    finally:
        store.close()


def run_import(
    settings, analyzer, stage: Callable[[Staging], Path], status: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, ImportStatus) of one import recorded as running (`new_import`); `stage` fills the
    staging folder and names the CSV; `status["on_model"]`: the photos show people wearing the products
    (the detector runs); else each photo is one product (ProductPhotos). Runs in a worker thread with
    catalogue connections of its own, and records its outcome in the catalogue."""
    from fashionlens.insights.analytics import utc_now

    remove_leftovers(settings.media)
    staging, code = open_staging(settings.media), 422
    used: set[str] = set()
    # what stays recorded when an unexpected error stops the import (it is raised: a 500, and logged)
    status.update(state="failed", error="an internal error stopped the import; nothing of it was imported")
    try:
        report, used = import_staged(
            settings.catalog, staging, stage, analyzer if status["on_model"] else ProductPhotos(analyzer)
        )
        status.update(
            state="refused",
            error=None,
            imported=report.new + report.updated,
            unchanged=report.unchanged,
            refused_rows=[{"line": b.line, "error": staging.public(b.reason)} for b in report.bad],
        )
        if report.imported:
            status["state"], code = "done", 200
        else:
            status["error"] = f"nothing imported: {len(report.bad)} refused rows"
    except TooLarge as error:
        status.update(state="refused", error=str(error))
        code = 413
    except (DiskFull, OSError, sqlite3.Error) as error:
        if not is_disk_full(error):
            raise
        # the catalogue's transaction was rolled back, and the photos this import kept are removed below
        log.error("disk full during a catalogue import: %s", error)
        status.update(state="refused", error=f"{DISK_FULL_MESSAGE}; nothing imported")
        code = DISK_FULL_STATUS
    except FashionLensError as error:
        status.update(state="refused", error=staging.public(str(error)))
    finally:
        remove_unused(staging, used)
        close_staging(staging)
        status["finished"] = utc_now()
        record_outcome(settings.catalog, status)
    return code, status


def record_outcome(catalog: Path | str, status: dict[str, Any]) -> None:
    """Write the finished import's record. On a full disk it is skipped and logged: the import has been
    answered, the catalogue holds what it says, and the record, still 'running', is settled as failed once
    this job is gone (settle_abandoned)."""
    from fashionlens.catalog.stores import open_store

    try:
        store = open_store(catalog)
        try:
            store.save_import(status)
        finally:
            store.close()
    except (DiskFull, OSError, sqlite3.Error, FashionLensError) as error:
        log.error("the record of import %s was not written: %s", status["id"], error)
