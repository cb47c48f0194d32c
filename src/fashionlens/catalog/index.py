"""The nearest-neighbour index (FAISS), derived from the store and never edited on its own.

Small catalogues get an exact inner-product index (IndexFlatIP: embeddings are L2-normalised, so the
score is the cosine similarity); above EXACT_LIMIT items an approximate HNSW graph. The index is cached
in a file next to the database together with the store's stamp (catalogue id, version, model): any
change of the items changes the stamp, and a stale cache is rebuilt from the store's vectors.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from fashionlens.catalog.store import CatalogStore, Filters
from fashionlens.core.errors import FashionLensError
from fashionlens.core.files import atomic_write

EXACT_LIMIT = 20_000
HNSW_NEIGHBOURS, HNSW_EF_SEARCH = 32, 128
EXACT, APPROXIMATE = "exact", "hnsw"


@dataclass
class Hit:
    key: int
    score: float


def build_index(keys: np.ndarray, vectors: np.ndarray, exact_limit: int = EXACT_LIMIT) -> faiss.IndexIDMap:
    """IndexIDMap over a flat (exact) or HNSW (approximate) inner-product index, ids = the store's keys."""
    dimension = vectors.shape[1] if vectors.size else 1
    inner: faiss.Index
    if len(keys) <= exact_limit:
        inner = faiss.IndexFlatIP(dimension)
    else:
        graph = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        inner = graph
    index = faiss.IndexIDMap(inner)
    if len(keys):
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # HNSW built by one thread is the same graph every time
        try:
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), keys.astype(np.int64))
        finally:
            faiss.omp_set_num_threads(threads)
    return index


def kind_of(index: faiss.IndexIDMap) -> str:
    return EXACT if isinstance(faiss.downcast_index(index.index), faiss.IndexFlat) else APPROXIMATE


class CatalogIndex:
    """Similarity search over a store's items with query-time filters."""

    def __init__(self, store: CatalogStore, cache: Path | None = None, exact_limit: int = EXACT_LIMIT):
        self.store, self.cache, self.exact_limit = store, cache, exact_limit
        self.stamp = store.stamp()
        cached = self._load(cache) if cache is not None else None
        if cached is None:
            keys, vectors = store.vectors()
            self.index = build_index(keys, vectors, exact_limit)
            if cache is not None:
                self._save(cache)
        else:
            self.index = cached
        self.kind = kind_of(self.index)

    def _load(self, cache: Path) -> faiss.IndexIDMap | None:
        """The cached index when its stamp is the store's, else None."""
        try:
            with np.load(cache, allow_pickle=False) as saved:
                if str(saved["stamp"]) != self.stamp or int(saved["limit"]) != self.exact_limit:
                    return None
                index = faiss.deserialize_index(saved["index"])
                return index if isinstance(index, faiss.IndexIDMap) else None
        except (OSError, KeyError, ValueError, RuntimeError):  # missing, foreign or damaged: rebuild
            return None

    def _save(self, cache: Path) -> None:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            stamp=np.array(self.stamp),
            limit=np.array(self.exact_limit),
            index=faiss.serialize_index(self.index),
        )
        try:
            atomic_write(cache, lambda temporary: temporary.write_bytes(buffer.getvalue()))
        except OSError:
            pass  # a read-only folder: the index lives in memory for this process only

    def search(self, query: np.ndarray, k: int, filters: Filters | None = None) -> list[Hit]:
        """The k items most similar to `query` (cosine similarity) among those matching `filters`."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if self.index.ntotal == 0 or k <= 0:
            return []
        if query.shape[1] != self.index.d:
            raise FashionLensError(f"query embedding has {query.shape[1]} dimensions, the catalogue {self.index.d}")
        if filters is None or filters == Filters():
            scores, keys = self.index.search(query, min(k, self.index.ntotal))
            return hits(keys[0], scores[0])
        allowed = self.store.matching_keys(filters)
        if len(allowed) == 0:
            return []
        if self.kind == APPROXIMATE and len(allowed) <= self.exact_limit:
            # a graph search restricted to few items loses them: search those few exactly instead
            keys, vectors = self.store.vectors(allowed)
            subset = build_index(keys, vectors, exact_limit=len(keys))
            scores, found = subset.search(query, min(k, len(keys)))
            return hits(found[0], scores[0])
        selector = faiss.IDSelectorBatch(allowed)
        # faiss's stubs omit the keyword constructor of its search parameters and SearchParametersHNSW
        params = (
            faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            if self.kind == EXACT
            else faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)  # type: ignore[attr-defined]
        )
        scores, found = self.index.search(query, min(k, len(allowed)), params=params)
        return hits(found[0], scores[0])


def hits(keys: np.ndarray, scores: np.ndarray) -> list[Hit]:
    """FAISS pads with -1 when fewer items qualify; ties are broken by key, so results are stable."""
    found = [Hit(int(key), float(score)) for key, score in zip(keys, scores) if key >= 0]
    return sorted(found, key=lambda hit: (-round(hit.score, 6), hit.key))


def index_cache_path(database: Path) -> Path:
    return database.with_name(database.name + ".faiss")
