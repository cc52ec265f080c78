"""Nearest neighbours of a big corpus in the original space (cosine), in milliseconds.

Up to ``EXACT_MAX_ROWS`` rows the index is exact: one matrix product per query batch (at 50,000 x 384 float32 a
query takes milliseconds). Beyond, an approximate index (HNSW, from ``usearch``), and its recall@k against the exact
answer is measured on a sample of queries (``measure_recall``) and shown beside it.

Why usearch and not pynndescent (which umap-learn installs): pynndescent compiles its code with numba at first use,
which took 70 to 180 s here on two busy cores before the first index was built, in every new process; usearch is
compiled ahead of time and builds a small index in milliseconds.

Example:
    >>> vectors = np.random.default_rng(0).normal(size=(500, 16)).astype(np.float32)
    >>> index = NeighbourIndex(vectors)
    >>> index.kind, index.query(vectors[:2], k=3)[0][:, 0].tolist()
    ('exact', [0, 1])
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embedlab.tasks.projection import unit_rows

EXACT_MAX_ROWS = 50_000  # rows searched exactly; above, the approximate index
RECALL_QUERIES = 200  # queries the recall of an approximate index is measured on
APPROX_CONNECTIVITY = 16  # edges per node of the HNSW graph (usearch's default)
APPROX_EXPANSION_ADD = 128  # candidates kept while building (usearch's default)
APPROX_EXPANSION_SEARCH = 96  # candidates kept while searching: larger is slower and closer to exact
_QUERY_BLOCK = 256  # query rows per matrix product: 256 x 100,000 float32 = 100 MB at most


def exact_neighbours(
    unit: npt.NDArray[np.float32], queries: npt.ArrayLike, k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The k rows of ``unit`` (n, dim; unit length) closest to each query by cosine, best first.

    Returns: indices (m, k) int64 and cosines (m, k) float32.
    """
    queries = unit_rows(np.atleast_2d(queries))
    k = min(k, len(unit))
    indices = np.zeros((len(queries), k), np.int64)
    scores = np.zeros((len(queries), k), np.float32)
    for start in range(0, len(queries), _QUERY_BLOCK):
        block = queries[start : start + _QUERY_BLOCK] @ unit.T  # (block, n)
        top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < block.shape[1] else np.argsort(-block, axis=1)
        top_scores = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        indices[start : start + len(block)] = np.take_along_axis(top, order, axis=1)
        scores[start : start + len(block)] = np.take_along_axis(top_scores, order, axis=1)
    return indices, scores


class NeighbourIndex:
    """An index of the rows of ``vectors`` (n, dim) for cosine nearest neighbours.

    Args:
        approximate: None: exact up to ``EXACT_MAX_ROWS`` rows, approximate above; True / False forces one.
        threads: threads that build and search the approximate index (0: every core).
    """

    def __init__(self, vectors: npt.ArrayLike, approximate: bool | None = None, threads: int = 0) -> None:
        self.unit = unit_rows(vectors)
        self.approximate = len(self.unit) > EXACT_MAX_ROWS if approximate is None else approximate
        self.threads = threads
        self.build_seconds = 0.0
        self._hnsw = None
        if self.approximate:
            from usearch.index import Index

            start = time.perf_counter()
            self._hnsw = Index(
                ndim=self.unit.shape[1],
                metric="cos",
                dtype="f32",
                connectivity=APPROX_CONNECTIVITY,
                expansion_add=APPROX_EXPANSION_ADD,
                expansion_search=APPROX_EXPANSION_SEARCH,
            )
            self._hnsw.add(np.arange(len(self.unit), dtype=np.uint64), self.unit, threads=threads)
            self.build_seconds = time.perf_counter() - start

    @property
    def kind(self) -> str:
        return "approximate" if self.approximate else "exact"

    def __len__(self) -> int:
        return len(self.unit)

    def query(self, queries: npt.ArrayLike, k: int = 10) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The k nearest rows of each query (m, dim), best first: indices (m, k) and cosines (m, k)."""
        if self._hnsw is None:
            return exact_neighbours(self.unit, queries, k)
        unit = unit_rows(np.atleast_2d(queries))
        found = self._hnsw.search(unit, min(k, len(self.unit)), threads=self.threads)
        return found.keys.astype(np.int64), (1.0 - found.distances).astype(np.float32)


def recall_at_k(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    """Share of the true k neighbours (rows of ``truth``) that ``found`` (same shape) lists, over all queries."""
    if truth.size == 0:
        return 1.0
    pairs = zip(found, truth, strict=True)
    hits = sum(len(set(row_found.tolist()) & set(row_truth.tolist())) for row_found, row_truth in pairs)
    return hits / truth.size


@dataclass(frozen=True)
class Recall:
    """recall@k of an index against the exact answer on ``queries`` rows of the corpus, and the time per query of
    each (milliseconds, the queries sent as one batch)."""

    recall: float
    k: int
    queries: int
    index_ms: float
    exact_ms: float


def measure_recall(index: NeighbourIndex, k: int = 10, queries: int = RECALL_QUERIES, seed: int = 0) -> Recall:
    """recall@k of ``index`` against an exact search, on ``queries`` rows of the corpus drawn at random (each one's
    own row counts: it is in both answers)."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(index), size=min(queries, len(index)), replace=False)
    sample = index.unit[chosen]
    start = time.perf_counter()
    found, _ = index.query(sample, k)
    index_s = time.perf_counter() - start
    start = time.perf_counter()
    truth, _ = exact_neighbours(index.unit, sample, k)
    exact_s = time.perf_counter() - start
    return Recall(
        recall=recall_at_k(found, truth),
        k=k,
        queries=len(chosen),
        index_ms=index_s * 1000 / len(chosen),
        exact_ms=exact_s * 1000 / len(chosen),
    )
