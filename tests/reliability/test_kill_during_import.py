"""kill -9 of `fashionlens catalog import` during its final write: the catalogue afterwards is the old one
or the new one, never half of the import, and SQLite finds it intact.

The import runs as a user runs it, in its own process; a hook in that process says when the write has
reached the chosen point (some items written inside the transaction, or just committed), and this test
sends SIGKILL: no cleanup, no rollback, as a power cut or the OOM killer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import make_image
from fashionlens.catalog.index import CatalogIndex
from fashionlens.catalog.store import SQLiteStore
from fashionlens.core.checkpoint import save_checkpoint
from tiny_models import random_checkpoint

pytestmark = pytest.mark.slow  # each test runs imports in child processes and kills them

HOOKED_IMPORT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from fashionlens.catalog.store import SQLiteStore

    marker, when = Path(sys.argv[1]), sys.argv[2]
    write_item, write_items = SQLiteStore._write_item, SQLiteStore.write_items
    written = []

    def hooked_item(self, cursor, item):
        write_item(self, cursor, item)
        written.append(item.id)
        if when == "during" and len(written) == 3:
            marker.write_text("3 items written, not committed")
            time.sleep(600)

    def hooked_items(self, *args, **kwargs):
        write_items(self, *args, **kwargs)
        if when == "after":
            marker.write_text("committed")
            time.sleep(600)

    SQLiteStore._write_item, SQLiteStore.write_items = hooked_item, hooked_items
    sys.argv = ["fashionlens", *sys.argv[3:]]
    from fashionlens.cli import main
    main()
""")


def product_csv(root: Path, ids: list[str]) -> Path:
    lines = ["id,image,price"]
    for number, item_id in enumerate(ids):
        photo = make_image(root / "photos" / f"{item_id}.jpg", (40, 48), (20 + 9 * number, 90, 200))
        lines.append(f"{item_id},{photo},{10 + number}")
    path = root / f"products-{ids[0]}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def kill_when_marked(command: list[str], marker: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the import never reached its final write (exit {process.returncode}): {err[-2000:]}")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@pytest.mark.parametrize("when, expected", [("during", "old"), ("after", "new")])
def test_kill_9_during_the_final_write_leaves_the_old_or_the_new_catalogue(fashionlens, tmp_path, when, expected):
    classifier = tmp_path / "classifier"
    save_checkpoint(random_checkpoint("img"), classifier / "best.pt")
    catalog = tmp_path / "shop.db"
    old_ids = ["A", "B"]
    assert (
        fashionlens(
            "catalog", "import", product_csv(tmp_path, old_ids), "--catalog", catalog, "--classifier", classifier
        ).returncode
        == 0
    )
    old_stamp = SQLiteStore(catalog).stamp()
    new_ids = [f"N{number}" for number in range(6)]
    marker = tmp_path / "marker"
    killed = kill_when_marked(
        [
            sys.executable,
            "-c",
            HOOKED_IMPORT,
            str(marker),
            when,
            "catalog",
            "import",
            str(product_csv(tmp_path, new_ids)),
            "--catalog",
            str(catalog),
            "--classifier",
            str(classifier),
        ],
        marker,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = SQLiteStore(catalog)
    assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = sorted(item.id for item in store.find_items())
    assert ids == (sorted(old_ids) if expected == "old" else sorted(old_ids + new_ids))
    assert (store.stamp() == old_stamp) is (expected == "old")
    keys, vectors = store.vectors()  # every item has its vector, and the index derived from them finds each
    found = CatalogIndex(store).search(vectors[0], k=len(ids))
    assert len(keys) == len(ids) and sorted(hit.key for hit in found) == sorted(keys.tolist())
