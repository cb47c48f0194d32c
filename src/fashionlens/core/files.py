"""Files written whole or not at all.

Every file is written to a temporary name in the same folder and renamed over the target, so a crash
or Ctrl-C never leaves half a checkpoint, catalogue export or report behind (os.replace is atomic on
one disk).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from fashionlens.core.errors import DiskFull, is_disk_full


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call `write(temporary_path)`, then rename the temporary file onto `path`. A full disk raises
    DiskFull naming `path`; the previous file at `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except Exception as error:
        if is_disk_full(error):
            raise DiskFull(path) from error
        raise
    finally:
        temporary.unlink(missing_ok=True)


def write_synced(path: Path, data: bytes | memoryview) -> None:
    """Write and fsync, so that the rename that follows never publishes a file still in the page cache."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda temporary: temporary.write_bytes(data))


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
