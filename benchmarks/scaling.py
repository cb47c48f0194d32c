"""The catalogue on PostgreSQL against SQLite, and catalogue imports on 1 and 2 Ray workers (docs/scaling.md).

    .venv/bin/python benchmarks/scaling.py                          # 30k items, a throwaway PostgreSQL cluster
    .venv/bin/python benchmarks/scaling.py --items 100000 --postgres postgresql://user:pw@host:5432/db
    .venv/bin/python benchmarks/scaling.py --ray-photos 0           # the stores only

Stores: `--items` synthetic products (benchmarks/search.py's vectors, shaped like the shipped classifier's
embeddings, 1280 dimensions; a region, price and kids attribute each) written in transactions of 10,000,
then what one service worker does: load every vector and build its FAISS index (HNSW above 20,000 items),
and per request read the stamp (is the index current?), search the 10 nearest, and read those items,
without and with filters (one region and a price cap: the matching keys come from the database). p50 / p99
of --queries single requests, one at a time. Without --postgres a cluster is started in a temporary folder
(tests/postgres_testing.py) on this machine, so the database shares its CPUs with the benchmark.

Ray: --ray-photos of the package's sample clothing photos imported with the shipped classifier (each photo one
product) by one process, then through `RayAnalyzer` with 1 and 2 local workers: the actors' start (model
loads) and the import itself, timed apart. Results: benchmarks/results/scaling.json (--results).
Synthetic products and the package's sample photos: this recipe takes no --data-path.
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from fashionlens.catalog.index import CatalogIndex
from fashionlens.catalog.store import CatalogItem, Filters
from fashionlens.catalog.stores import open_store
from recipe import RESULTS, ROOT, load_module, write_result
from search import synthetic

K, CHUNK = 10, 10_000
REGIONS = ("upper", "lower", "full")
FILTERED = Filters(regions=("lower",), max_price=100.0)


def products(vectors: np.ndarray) -> list[CatalogItem]:
    return [
        CatalogItem(
            id=f"P{n:07d}",
            image=f"photos/{n}.jpg",
            name=f"Product {n}",
            price=float(5 + n % 200),
            category="Pants" if n % 3 == 1 else "T-Shirt",
            region=REGIONS[n % 3],
            color="Blue",
            attributes={"kids": str(n % 10 == 0)},
            embedding=vector,
        )
        for n, vector in enumerate(vectors)
    ]


def percentiles(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
    }


def requests(store, index: CatalogIndex, queries: np.ndarray, filters: Filters | None) -> dict[str, float]:
    """A search request as the service runs it: the stamp check, the search, the items found."""
    latencies = []
    for query in queries:
        start = time.perf_counter()
        assert store.stamp() == index.stamp
        hits = index.search(query, K, filters)
        store.find_items(keys=[hit.key for hit in hits])
        latencies.append((time.perf_counter() - start) * 1000)
    return percentiles(latencies)


def measure_store(location, items: list[CatalogItem], queries: np.ndarray) -> dict:
    store = open_store(location, create=True)
    start = time.perf_counter()
    for first in range(0, len(items), CHUNK):
        store.write_items(items[first : first + CHUNK], {"id": "synthetic"})
    written = time.perf_counter() - start
    start = time.perf_counter()
    store.vectors()
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    index = CatalogIndex(store)  # loads the vectors again and builds
    built = time.perf_counter() - start - loaded
    stamps = []
    for _ in range(len(queries)):
        begin = time.perf_counter()
        store.stamp()
        stamps.append((time.perf_counter() - begin) * 1000)
    row = {
        "write_items_per_s": round(len(items) / written),
        "load_vectors_s": round(loaded, 2),
        "build_index_s": round(built, 2),
        "index": index.kind,
        "stamp": percentiles(stamps),
        "search": requests(store, index, queries, None),
        "filtered_search": requests(store, index, queries, FILTERED),
    }
    store.close()
    return row


def measure_stores(count: int, query_count: int, postgres: str | None) -> dict:
    vectors, queries = synthetic(count, seed=0), synthetic(query_count, seed=1)
    items = products(vectors)
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        rows["sqlite"] = measure_store(Path(folder) / "shop.db", items, queries)
        print("sqlite", rows["sqlite"], flush=True)
    if postgres is None:
        postgres_testing = load_module(ROOT / "tests" / "postgres_testing.py")  # the throwaway cluster
        start_server, stop_server = postgres_testing.start_server, postgres_testing.stop_server
        folder = Path(tempfile.mkdtemp(prefix="fashionlens-postgres-"))
        server = start_server(folder)
        try:
            rows["postgresql"] = measure_store(server.create_database(), items, queries)
        finally:
            stop_server(folder)
            shutil.rmtree(folder, ignore_errors=True)
    else:
        rows["postgresql"] = measure_store(postgres, items, queries)
    print("postgresql", rows["postgresql"], flush=True)
    return {
        "items": count,
        "dimension": int(vectors.shape[1]),
        "queries": query_count,
        "k": K,
        "filtered": "region lower, price <= 100 (16% of the items)",
        "stores": rows,
    }


def photo_csv(folder: Path, count: int) -> Path:
    from fashionlens.samples import sample_path

    photos = sorted((sample_path("clothing") / "images").glob("*.jpg"))[:count]
    path = folder / "products.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "image"])
        writer.writerows([photo.stem, str(photo)] for photo in photos)
    return path


def measure_ray(count: int) -> dict:
    from fashionlens.catalog.importer import import_products
    from fashionlens.cli.options import ModelChoice, load_analyzer
    from fashionlens.inference.ray_analysis import RayAnalyzer

    make = functools.partial(load_analyzer, ModelChoice(whole_image=True), 16)
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        products_csv = photo_csv(Path(folder), count)
        start = time.perf_counter()
        analyzer = make()
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        import_products(products_csv, open_store(Path(folder) / "one.db", create=True), analyzer)
        rows["one process"] = {"start_s": round(loaded, 1), "import_s": round(time.perf_counter() - start, 1)}
        for workers in (1, 2):
            start = time.perf_counter()
            spread = RayAnalyzer(make, "local", workers=workers)
            started = time.perf_counter() - start
            start = time.perf_counter()
            import_products(products_csv, open_store(Path(folder) / f"ray{workers}.db", create=True), spread)
            rows[f"ray, {workers} workers"] = {
                "start_s": round(started, 1),
                "import_s": round(time.perf_counter() - start, 1),
            }
            spread.close()
    for row in rows.values():
        row["photos_per_s"] = round(count / row["import_s"], 1)
    print(rows, flush=True)
    return {"photos": count, "model": "the shipped classifier, whole photo, torch backend", "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--postgres",
        help="a PostgreSQL URL to use (its database gets the catalogue's tables); "
        "default: a throwaway cluster on this machine",
    )
    parser.add_argument("--ray-photos", type=int, default=96, help="photos for the Ray import (0: none)")
    parser.add_argument("--results", type=Path, default=RESULTS / "scaling.json", help="results JSON")
    args = parser.parse_args()
    # the machine may be shared: its load says how far the numbers are from an idle machine's
    results = {
        "cpus": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "stores": measure_stores(args.items, args.queries, args.postgres),
    }
    if args.ray_photos:
        results["ray"] = measure_ray(args.ray_photos)
    write_result(args.results, results)
    print(f"written {args.results}")


if __name__ == "__main__":
    main()
