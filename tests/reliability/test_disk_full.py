"""A full disk while the catalogue or a checkpoint is written: one line saying "disk full" and naming the
file, exit 1, and the previous catalogue or checkpoint as it was.

Two ways to fill the disk: in this process, by patching the writes (SQLite's COMMIT rolls back and
reports "database or disk is full" as it does on a real full disk; a file write raises ENOSPC; torch's
own writer fails with "unexpected pos"), and for real, on a tiny tmpfs mounted in a private mount
namespace (`unshare`), skipped where the machine does not allow it.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from conftest import make_image, make_labels_csv_dataset
from fashionlens.catalog.store import SQLiteStore
from fashionlens.core.checkpoint import load_checkpoint, save_checkpoint
from fashionlens.core.errors import DiskFull, is_disk_full
from tiny_models import random_checkpoint

FULL = "database or disk is full"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("classifier")
    save_checkpoint(random_checkpoint("img"), run / "best.pt")
    return run


def product_csv(root: Path, ids: list[str]) -> Path:
    lines = ["id,image,price"]
    for number, item_id in enumerate(ids):
        photo = make_image(root / "photos" / f"{item_id}.jpg", (40, 48), (20 + 9 * number, 90, 200))
        lines.append(f"{item_id},{photo},{10 + number}")
    path = root / f"products-{ids[0]}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the catalogue ------------------------------------------------------------------------------------------


class FullDiskCursor:
    """A cursor on a disk that fills up while items are written (see FullDiskConnection)."""

    def __init__(self, real: sqlite3.Cursor, connection: "FullDiskConnection"):
        self._real, self._connection = real, connection

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __iter__(self):
        return iter(self._real)

    def execute(self, sql: str, *args):
        statement = sql.strip().upper()
        if statement.startswith("INSERT INTO ITEMS"):
            if self._connection.fail_at == "insert":  # the statement fails, the transaction stays open
                raise sqlite3.OperationalError(FULL)
            self._connection.wrote_items = True
        if statement == "COMMIT" and self._connection.wrote_items and self._connection.fail_at == "commit":
            # what SQLite does when the disk fills while it writes the transaction out: it rolls the
            # transaction back itself, then reports the error
            self._connection.real.execute("ROLLBACK")
            raise sqlite3.OperationalError(FULL)
        self._real.execute(sql, *args)
        return self


class FullDiskConnection:
    def __init__(self, real: sqlite3.Connection, fail_at: str):
        self.real, self.fail_at, self.wrote_items = real, fail_at, False

    def __getattr__(self, name):
        return getattr(self.real, name)

    def cursor(self) -> FullDiskCursor:
        return FullDiskCursor(self.real.cursor(), self)

    def execute(self, sql: str, *args):
        return self.cursor().execute(sql, *args)


@pytest.mark.parametrize("fail_at", ["commit", "insert"])
def test_a_full_disk_during_an_import_is_one_line_and_keeps_the_catalogue(
    fashionlens, tmp_path, classifier, monkeypatch, fail_at
):
    catalog = tmp_path / "shop.db"
    first = fashionlens(
        "catalog", "import", product_csv(tmp_path, ["A"]), "--catalog", catalog, "--classifier", classifier
    )
    assert first.returncode == 0, first.stderr
    stamp = SQLiteStore(catalog).stamp()
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: FullDiskConnection(real_connect(*a, **k), fail_at))
    result = fashionlens(
        "catalog", "import", product_csv(tmp_path, ["B", "C"]), "--catalog", catalog, "--classifier", classifier
    )
    monkeypatch.undo()
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "cannot rollback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: disk full writing {catalog}; free some space and run the command again"
    )
    store = SQLiteStore(catalog)
    assert store.stamp() == stamp and [item.id for item in store.find_items()] == ["A"]
    assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- checkpoints --------------------------------------------------------------------------------------------


@contextmanager
def full_disk_for(suffix: str):
    """Files ending in `suffix` cannot be written: a Python write raises ENOSPC, and torch's own file
    writer fails as it does on a full disk (a RuntimeError "unexpected pos", after a partial file)."""
    real_open, real_save = builtins.open, torch.save

    class FullFile(io.RawIOBase):
        def __init__(self, path):
            self.path = path
            real_open(path, "wb").close()

        def writable(self):
            return True

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    def fake_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, Path)) and str(file).endswith(suffix) and any(m in mode for m in "wax"):
            return FullFile(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_save(obj, f, *args, **kwargs):
        if isinstance(f, (str, Path)) and str(f).endswith(suffix):
            Path(f).write_bytes(b"PK\x03\x04partial")
            raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 4352 vs 4244")
        return real_save(obj, f, *args, **kwargs)

    patches = [(builtins, "open"), (io, "open"), (torch, "save")]
    saved = [getattr(module, name) for module, name in patches]
    builtins.open = io.open = fake_open
    torch.save = fake_save
    try:
        yield
    finally:
        for (module, name), value in zip(patches, saved):
            setattr(module, name, value)


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "run" / "best.pt"
    save_checkpoint({**random_checkpoint("img"), "epoch": 0}, path)
    with full_disk_for(".pt"), pytest.raises(DiskFull, match=f"^disk full writing {path}$"):
        save_checkpoint({**random_checkpoint("img", seed=1), "epoch": 1}, path)
    assert load_checkpoint(path)["epoch"] == 0
    assert sorted(p.name for p in path.parent.iterdir()) == ["best.pt"]  # no temporary file left


@pytest.mark.slow
def test_training_on_a_full_disk_ends_in_one_line(fashionlens, tmp_path):
    data = make_labels_csv_dataset(tmp_path / "data", per_split={"train": 2, "val": 1}, size=24)
    out = tmp_path / "run"
    with full_disk_for(".pt"):
        result = fashionlens(
            "train",
            "classifier",
            "--data",
            data,
            "--out",
            out,
            "--epochs",
            "1",
            "--image-size",
            "32",
            "--batch-size",
            "4",
            "--arch",
            "mobilenet_v3_small",
            "--pretrained",
            "none",
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected pos" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: disk full writing {out}{'/'}") and ".pt;" in last
    assert not list(out.glob("*.pt")) and not list(out.glob(".*.tmp*"))


@pytest.mark.parametrize(
    "error, full",
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (sqlite3.OperationalError(FULL), True),
        (sqlite3.OperationalError("database is locked"), False),
        (OSError(errno.EACCES, "Permission denied"), False),
        (ValueError("x"), False),
    ],
)
def test_is_disk_full_knows_the_conditions(error, full):
    assert is_disk_full(error) is full
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped) is full  # a library's own error raised from the OS error


# --- a real full disk: a tiny tmpfs in a private mount namespace --------------------------------------------


def on_small_disk(tmp_path: Path, size: str, script: str) -> subprocess.CompletedProcess:
    """Run `script` (Python) with a `size` tmpfs mounted at tmp_path/disk; skip where mounting is not allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    unshare = shutil.which("unshare")
    probe = unshare and subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {disk}"],
        capture_output=True,
    )
    if not probe or probe.returncode != 0:
        pytest.skip("cannot mount a tmpfs in a private namespace here (unshare --user --mount)")
    command = f'mount -t tmpfs -o size={size} tmpfs {disk} && exec {sys.executable} -c "$0"'
    return subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", command, script],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )


FILL = """
def fill(disk, leave):
    # fill the disk, then free `leave` bytes: the next large write runs out of space for real
    with open(disk / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\\0" * 4096)
        except OSError:
            pass
    with open(disk / "filler", "r+b") as handle:
        handle.truncate(max(0, (disk / "filler").stat().st_size - leave))
"""


@pytest.mark.slow
def test_a_real_full_disk_keeps_the_previous_checkpoint(tmp_path):
    script = textwrap.dedent(FILL) + textwrap.dedent(f"""
        import json
        from pathlib import Path
        import torch
        from fashionlens.core.checkpoint import load_checkpoint, save_checkpoint
        from fashionlens.core.errors import FashionLensError
        disk = Path({str(tmp_path / "disk")!r})
        base = {{"kind": "classifier", "arch": "x", "mode": "img", "class_names": ["a"], "preprocessing": {{}},
                 "config": {{}}, "metrics": {{}}}}
        save_checkpoint({{**base, "epoch": 0, "model": {{"w": torch.zeros(1000)}}}}, disk / "best.pt")
        fill(disk, 8192)
        try:
            save_checkpoint({{**base, "epoch": 1, "model": {{"w": torch.zeros(100000)}}}}, disk / "best.pt")
            error = None
        except Exception as caught:
            error = f"{{type(caught).__name__}}: {{caught}}"
        print(json.dumps({{"error": error, "epoch": load_checkpoint(disk / "best.pt")["epoch"],
                           "files": sorted(p.name for p in disk.iterdir())}}))
    """)
    result = on_small_disk(tmp_path, "1m", script)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["error"] == f"DiskFull: disk full writing {tmp_path / 'disk' / 'best.pt'}"
    assert found["epoch"] == 0 and found["files"] == ["best.pt", "filler"]


@pytest.mark.slow
def test_a_real_full_disk_during_an_import_keeps_the_catalogue(fashionlens, tmp_path, classifier):
    catalog = tmp_path / "shop.db"
    assert (
        fashionlens(
            "catalog", "import", product_csv(tmp_path, ["A"]), "--catalog", catalog, "--classifier", classifier
        ).returncode
        == 0
    )
    store = SQLiteStore(catalog)
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in shop.db itself, to copy it
    store.close()
    source = product_csv(tmp_path, [f"N{number}" for number in range(40)])
    script = textwrap.dedent(FILL) + textwrap.dedent(f"""
        import json, shutil, subprocess, sys
        from pathlib import Path
        disk = Path({str(tmp_path / "disk")!r})
        shutil.copy({str(catalog)!r}, disk / "shop.db")
        from fashionlens.catalog.store import SQLiteStore
        held = SQLiteStore(disk / "shop.db")  # keeps shop.db-wal and -shm in place while the disk is full
        fill(disk, 16384)
        run = subprocess.run([sys.executable, "-c", "from fashionlens.cli import main; main()", "catalog", "import",
                              {str(source)!r}, "--catalog", str(disk / "shop.db"), "--classifier",
                              {str(classifier)!r}], capture_output=True, text=True)
        (disk / "filler").unlink()
        store = SQLiteStore(disk / "shop.db")
        print(json.dumps({{"code": run.returncode, "stderr": run.stderr, "ids": [i.id for i in store.find_items()],
                           "check": store.connection.execute("PRAGMA integrity_check").fetchone()[0]}}))
    """)
    result = on_small_disk(tmp_path, "256k", script)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["code"] == 1, found["stderr"]
    assert "Traceback" not in found["stderr"] and "cannot rollback" not in found["stderr"]
    assert found["stderr"].strip().splitlines()[-1].startswith(f"error: disk full writing {tmp_path / 'disk'}")
    assert found["ids"] == ["A"] and found["check"] == "ok"
