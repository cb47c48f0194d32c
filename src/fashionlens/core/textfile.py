"""The one reader of text files (CSV, DeepFashion lists, COCO JSON): UTF-8, with clear errors.

Every reader decodes through here, so a file saved as Latin-1 or UTF-16 is reported the same way
everywhere: one DataFormatError naming the file, the line and the offending byte, never a
UnicodeDecodeError traceback. A UTF-8 byte-order mark (Excel's "CSV UTF-8") is dropped.
"""

from __future__ import annotations

import codecs
import csv
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from fashionlens.core.errors import DataFormatError

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
SAVE_AS = "save the file as UTF-8"


def _decode(path: Path, raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        raise DataFormatError(
            path,
            f"not UTF-8 text (byte 0x{byte:02x} at column {error.start + 1}; Latin-1 or Windows-1252?); {SAVE_AS}",
            line,
        ) from None


def _check_start(path: Path, first: bytes) -> bytes:
    """`first` without a UTF-8 BOM; UTF-16 (Excel's "Unicode text") is named as such."""
    if first.startswith(UTF16_BOMS):
        raise DataFormatError(path, f"UTF-16 text, not UTF-8; {SAVE_AS}", 1)
    return first[len(codecs.BOM_UTF8) :] if first.startswith(codecs.BOM_UTF8) else first


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DataFormatError(path, "file not found" if not path.exists() else "not a file")


@contextmanager
def open_lines(path: str | Path) -> Iterator[Iterator[str]]:
    """The file's lines, decoded one at a time (line ends kept, as `open(newline="")` gives them, so
    the csv module sees quoted newlines); a bad byte is reported at its own physical line."""
    path = Path(path)
    _require_file(path)
    with path.open("rb") as handle:

        def lines() -> Iterator[str]:
            for number, raw in enumerate(handle, start=1):
                yield _decode(path, _check_start(path, raw) if number == 1 else raw, number)

        yield lines()


def read_text(path: str | Path) -> str:
    """The whole file as text (COCO JSON, DeepFashion lists): the same checks as open_lines."""
    with open_lines(path) as lines:
        return "".join(lines)


def read_json(path: str | Path) -> Any:
    """A JSON file's value; invalid JSON is a DataFormatError at its line."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataFormatError(Path(path), f"not valid JSON ({error.msg})", error.lineno) from None


class CsvRows:
    """csv.reader over open_lines(): rows, `line_num`, and the csv module's own errors (a NUL byte, a
    field over its size limit) as a DataFormatError at their line."""

    def __init__(self, path: Path, lines: Iterator[str]):
        self.path = path
        self._reader = csv.reader(lines)

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> "CsvRows":
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self._reader)
        except csv.Error as error:
            raise DataFormatError(self.path, f"not a readable CSV ({error})", self._reader.line_num or 1) from None


@contextmanager
def open_csv(path: str | Path) -> Iterator[CsvRows]:
    """Rows of a CSV file, read through open_lines()."""
    path = Path(path)
    with open_lines(path) as lines:
        yield CsvRows(path, lines)
