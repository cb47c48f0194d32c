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
from helpers import SIX, product_csv
from tiny_models import random_analyzer

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a local Ray instance and its workers start
TESTS = str(Path(__file__).parent)


def test_a_bad_ray_address_is_one_line(fashionlens, tmp_path):
    # first in the module: a process already connected to Ray (local_ray below) uses that instance
    products = product_csv(tmp_path, SIX[:1])
    result = fashionlens("catalog", "import", products, "--catalog", tmp_path / "shop.db", "--ray", "nowhere:1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --ray nowhere:1: cannot reach a Ray cluster")
    assert not (tmp_path / "shop.db").exists()


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (two CPUs) for the module, whose workers find tests/ (tiny_models) on their path."""
    from fashionlens.inference.ray_analysis import start_ray

    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS, before]))
    try:
        start_ray("local", 2)
    finally:
        os.environ.pop("PYTHONPATH") if before is None else os.environ.update(PYTHONPATH=before)
    yield
    ray.shutdown()


@pytest.fixture
def two_workers(local_ray):
    from fashionlens.inference.ray_analysis import RayAnalyzer

    analyzer = RayAnalyzer(functools.partial(random_analyzer), workers=2)
    yield analyzer
    analyzer.close()


class CrashingAnalyzer:
    """Makes random_analyzer, whose process dies (as a killed worker) at the first analysis of the test."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __call__(self):
        analyzer, marker = random_analyzer(), self.marker
        analyze = analyzer.analyze

        def analyze_or_die(*args, **options):
            if not marker.exists():
                marker.write_text("crashed")
                os._exit(1)
            return analyze(*args, **options)

        analyzer.analyze = analyze_or_die
        return analyzer


def rows(store: SQLiteStore) -> list[tuple]:
    return [
        (
            item.id,
            item.image,
            item.image_digest,
            item.name,
            item.price,
            item.category,
            item.predicted_category,
            item.region,
            item.color,
            item.box,
            item.pattern,
            item.sleeve,
            item.attributes,
        )
        for item in store.find_items()
    ]


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


def test_a_worker_killed_mid_import_is_replaced_and_nothing_is_imported_twice(tmp_path, local_ray):
    from fashionlens.inference.ray_analysis import RayAnalyzer

    products = product_csv(tmp_path, SIX)
    alone, spread = SQLiteStore(tmp_path / "alone.db", create=True), SQLiteStore(tmp_path / "ray.db", create=True)
    import_products(products, alone, random_analyzer())
    crashing = RayAnalyzer(CrashingAnalyzer(tmp_path / "crashed"), workers=2)
    try:
        report = import_products(products, spread, crashing)
    finally:
        crashing.close()
    assert (tmp_path / "crashed").exists()  # a worker did die
    assert report.new == 6 and rows(spread) == rows(alone) and spread.count() == 6


def test_models_that_cannot_load_on_the_workers_are_one_error(tmp_path, local_ray):
    from fashionlens.cli.options import ModelChoice, load_analyzer
    from fashionlens.core.errors import FashionLensError
    from fashionlens.inference.ray_analysis import RayAnalyzer

    with pytest.raises(FashionLensError, match="missing-run: checkpoint not found"):
        RayAnalyzer(functools.partial(load_analyzer, ModelChoice(None, tmp_path / "missing-run", True), 4), workers=1)


def test_a_ray_reindex_writes_the_vectors_of_a_one_process_reindex(tmp_path, two_workers):
    from fashionlens.catalog.importer import reindex

    products = product_csv(tmp_path, SIX)
    alone, spread = SQLiteStore(tmp_path / "alone.db", create=True), SQLiteStore(tmp_path / "ray.db", create=True)
    for store in (alone, spread):
        import_products(products, store, random_analyzer(seed=1))  # another model: reindex must replace it
    assert reindex(alone, random_analyzer()) == reindex(spread, two_workers) == 6
    assert rows(spread) == rows(alone) and spread.model() == alone.model()
    assert spread.model()["id"] == random_analyzer().model_id != random_analyzer(seed=1).model_id
    (keys, vectors), (ray_keys, ray_vectors) = alone.vectors(), spread.vectors()
    assert np.array_equal(keys, ray_keys)
    np.testing.assert_allclose(ray_vectors, vectors, atol=1e-6)


def test_reindex_takes_the_ray_option(fashionlens):
    result = fashionlens("catalog", "reindex", "--help")
    assert result.returncode == 0 and "--ray" in result.stdout and "--ray-workers" in result.stdout


def test_a_ray_analysis_gives_the_one_process_analyses_in_order(tmp_path, two_workers):
    from fashionlens.cli.analyze import analyze_photos
    from fashionlens.inference.analyzer import analyses_json

    product_csv(tmp_path, SIX)
    photos = sorted((tmp_path / "photos").glob("*.png"))
    alone = random_analyzer()
    expected = analyze_photos(alone, photos)
    found = analyze_photos(two_workers, photos)
    # what `analyze --json` prints: the same bytes either way
    assert analyses_json(found, two_workers.description) == analyses_json(expected, alone.description)
    assert [a.image for a in found] == [str(p) for p in photos] == [a.image for a in expected]
    for mine, theirs in zip(found, expected):
        assert [g.category for g in mine.garments] == [g.category for g in theirs.garments]
        assert [g.box.as_list() for g in mine.garments] == [g.box.as_list() for g in theirs.garments]
        for a, b in zip(mine.garments, theirs.garments):
            np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)


def test_analyze_with_ray_refuses_explain_in_one_line(fashionlens, tmp_path):
    product_csv(tmp_path, SIX[:1])
    photo = tmp_path / "photos" / "p0.png"
    explain = fashionlens("analyze", photo, "--ray", "local", "--explain", tmp_path / "maps")
    assert explain.returncode == 2 and explain.stderr.strip().splitlines() == [
        "error: --explain needs the models in this process; leave out --ray"
    ]
    assert not (tmp_path / "maps").exists()
