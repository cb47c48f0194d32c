"""Batch analysis on Ray: an import through two local Ray workers writes the same catalogue rows as the
one-process import; a photo's worker crashing is retried without importing anything twice. Skipped where
Ray is not installed (it is an optional extra; `make test` installs it)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest

from fashionlens.catalog.importer import import_products
from fashionlens.catalog.store import SQLiteStore
from test_catalog import SIX, product_csv
from tiny_models import random_analyzer

ray = pytest.importorskip("ray")
TESTS = str(Path(__file__).parent)


@pytest.fixture
def two_workers(monkeypatch):
    """A local Ray instance of two worker processes, which find tests/ (tiny_models) on their path."""
    from fashionlens.ray_analysis import RayAnalyzer

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")])))
    analyzer = RayAnalyzer(functools.partial(random_analyzer), "local", workers=2)
    yield analyzer
    analyzer.close()


def rows(store: SQLiteStore) -> list[tuple]:
    return [(item.id, item.image, item.image_digest, item.name, item.price, item.category, item.predicted_category,
             item.region, item.color, item.box, item.pattern, item.sleeve, item.attributes)
            for item in store.find_items()]


def test_a_ray_import_writes_the_rows_of_a_one_process_import(tmp_path, two_workers):
    products = product_csv(tmp_path, SIX + ["SKU-9,photos/missing.png,Missing,1,Dress,,False,yes"])
    alone, spread = SQLiteStore(tmp_path / "alone.db", create=True), SQLiteStore(tmp_path / "ray.db", create=True)
    expected = import_products(products, alone, random_analyzer())
    found = import_products(products, spread, two_workers)
    assert len(two_workers.actors) == 2 and two_workers.batch_size == 2 * random_analyzer().batch_size
    assert (found.new, [str(bad) for bad in found.bad]) == (expected.new, [str(bad) for bad in expected.bad])
    assert rows(spread) == rows(alone) and spread.model() == alone.model()
    (keys, vectors), (ray_keys, ray_vectors) = alone.vectors(), spread.vectors()
    assert np.array_equal(keys, ray_keys)
    np.testing.assert_allclose(ray_vectors, vectors, atol=1e-6)  # batches of another size: float rounding only


def test_a_bad_ray_address_is_one_line(fashionlens, tmp_path):
    products = product_csv(tmp_path, SIX[:1])
    result = fashionlens("catalog", "import", products, "--catalog", tmp_path / "shop.db", "--ray", "nowhere:1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --ray nowhere:1: cannot reach a Ray cluster")
    assert not (tmp_path / "shop.db").exists()
