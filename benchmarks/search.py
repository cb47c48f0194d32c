"""Nearest-neighbour search over large catalogues: latency, recall and memory from 10k to 1M items.

    .venv/bin/python benchmarks/search.py                      # 10k, 100k (exact, HNSW), 1M (IVF)
    .venv/bin/python benchmarks/search.py --sizes 10000 100000 --queries 500

The vectors are synthetic but shaped like the catalogue's embeddings: a Gaussian fitted to the embeddings
of the package's 250 sample clothing photos by the shipped classifier (their mean and principal axes,
512 dimensions), sampled and L2-normalised. Like real embeddings (of 2,000 clothing photos: median cosine
to the nearest item 0.975, to the 10th 0.958, mean cosine 0.754) they crowd together (sampled: 0.955,
0.935, 0.767), which is what makes approximate search hard; uniform random vectors would have no near
neighbours at all. Queries are further samples, searched one at a time as the service does. Recall@10
is measured against exact search (IndexFlatIP) of the same vectors.

For each size and index setting: build time, index memory (its serialised size), p50 / p99 latency of
single queries and recall@10. Goal (the speed issue): p99 <= 10 ms at 100,000 items.
Results: benchmarks/results/search.json (--results). Synthetic vectors: this recipe takes no --data-path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from fashionlens.catalog.index import HNSW_EF_SEARCH, HNSW_NEIGHBOURS, build_index
from fashionlens.export.exports import export_for_backend
from fashionlens.inference.analyzer import Analyzer
from fashionlens.inference.default_models import default_classifier
from fashionlens.samples import sample_path
from recipe import RESULTS, write_result

K = 10
GOAL_P99_MS, GOAL_SIZE = 10.0, 100_000


@lru_cache(maxsize=1)
def catalogue_shape() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, standard deviations, principal axes) of the sample clothing photos' embeddings."""
    export_for_backend((None, default_classifier()), "onnx")  # once, beside the shipped weights
    analyzer = Analyzer.from_runs(None, default_classifier(), backend="onnx")
    photos = sorted((sample_path("clothing") / "images").glob("*.jpg"))
    embeddings = np.stack(
        [
            garment.embedding
            for start in range(0, len(photos), 32)
            for analysis in analyzer.analyze_paths(photos[start : start + 32])
            for garment in analysis.garments
        ]
    )
    mean = embeddings.mean(axis=0)
    _, singular, axes = np.linalg.svd(embeddings - mean, full_matrices=False)
    return mean, singular / np.sqrt(len(embeddings) - 1), axes


def synthetic(count: int, seed: int) -> np.ndarray:
    """`count` L2-normalised vectors shaped like catalogue embeddings; the same seed, the same vectors."""
    mean, deviations, axes = catalogue_shape()
    rng = np.random.default_rng(seed)
    vectors = np.empty((count, len(mean)), np.float32)
    for start in range(0, count, 100_000):  # in chunks: no second 1M x 512 array at once
        stop = min(count, start + 100_000)
        weights = rng.standard_normal((stop - start, len(deviations)), dtype=np.float32) * deviations
        vectors[start:stop] = mean + weights @ axes
    faiss.normalize_L2(vectors)
    return vectors


def timed_queries(index: faiss.Index, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(latencies in ms, ids found) of one query at a time."""
    latencies, found = [], []
    for query in queries:
        start = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), K)
        latencies.append((time.perf_counter() - start) * 1000)
        found.append(ids[0])
    return np.array(latencies), np.array(found)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def memory_mb(index: faiss.Index) -> float:
    return round(faiss.serialize_index(index).nbytes / 2**20, 1)


def ivf_index(vectors: np.ndarray, lists: int, nprobe: int) -> faiss.Index:
    """IVF-Flat: k-means cells trained on a sample; a query scans `nprobe` cells."""
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(1).choice(len(vectors), min(len(vectors), lists * 40), replace=False)]
    index.train(sample)
    index.add(vectors)
    index.nprobe = nprobe
    return index


def settings_for(size: int) -> list[tuple[str, callable]]:
    """The index settings measured at one size: the catalogue's own choice first."""
    ids = lambda n: np.arange(n, dtype=np.int64)  # noqa: E731
    settings = []
    if size <= 100_000:
        settings.append(("exact (IndexFlatIP)", lambda v: build_index(ids(len(v)), v, exact_limit=len(v))))
        settings.append(
            (
                f"HNSW M={HNSW_NEIGHBOURS} efSearch={HNSW_EF_SEARCH} (catalogue default)",
                lambda v: build_index(ids(len(v)), v, exact_limit=0),
            )
        )
    lists = 256 if size <= 10_000 else 1024 if size <= 100_000 else 4096
    for nprobe in (16, 64):
        settings.append((f"IVF-Flat lists={lists} nprobe={nprobe}", lambda v, p=nprobe: ivf_index(v, lists, p)))
    return settings


def measure(size: int, queries: np.ndarray) -> list[dict]:
    vectors = synthetic(size, seed=size)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, K)
    rows = []
    for name, build in settings_for(size):
        print(f"== {size:,} items: {name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        index = build(vectors)
        built = time.perf_counter() - start
        timed_queries(index, queries[:20])  # warm-up
        latencies, found = timed_queries(index, tqdm(queries, desc="queries", file=sys.stderr, leave=False))
        rows.append(
            {
                "items": size,
                "index": name,
                "build_s": round(built, 1),
                "memory_mb": memory_mb(index),
                "p50_ms": round(float(np.percentile(latencies, 50)), 3),
                "p99_ms": round(float(np.percentile(latencies, 99)), 3),
                "recall_at_10": round(recall_at_k(found, truth), 4),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        del index
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| items | index | build s | memory MB | p50 ms | p99 ms | recall@10 |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {r['items']:,} | {r['index']} | {r['build_s']} | {r['memory_mb']} | {r['p50_ms']} | "
        f"{r['p99_ms']} | {r['recall_at_10']} |"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--results", type=Path, default=RESULTS / "search.json", help="results JSON")
    args = parser.parse_args()
    queries = synthetic(args.queries, seed=7)
    rows = [row for size in args.sizes for row in measure(size, queries)]
    print(table(rows))
    write_result(
        args.results,
        {
            "threads": faiss.omp_get_max_threads(),
            "dimension": queries.shape[1],
            "queries": args.queries,
            "goal": {"items": GOAL_SIZE, "p99_ms": GOAL_P99_MS},
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
