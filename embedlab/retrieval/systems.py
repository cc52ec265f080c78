"""Retrieval systems: each ranks the corpus for every query and keeps the first ``RETRIEVAL_DEPTH`` documents.

- BM25 (``bm25_run``): bm25s's Lucene variant (k1 1.5, b 0.75) over bm25s's own tokenizer (lower-cased words of
  two or more characters, English stop words out); a document sharing no term with the query scores 0 and is not
  retrieved. The scores are the library's own.
- Any scorer with sentence vectors (``vector_run``: raw pooling at any layer and pooling, a sentence-transformer's
  own pipeline, an embeddings service): the corpus is encoded once through the scorer (the encoders cache every
  text per model, so a second run or another pooling of the same model costs no pass), then one encode per query;
  a document's score is its cosine with the query.
- A re-ranker (``rerank_run``): anything with a pair score (a cross-encoder) re-scores the first ``top_k``
  documents of another run, one pass per (query, document): ``top_k`` passes per query.

Ties are broken by ascending document id, as sentence-transformers' InformationRetrievalEvaluator does, so the
order (and every metric) is the same as its order.

Example:
    >>> run = vector_run(data, open_scorer("all-MiniLM-L6-v2"))  # doctest: +SKIP
    >>> run.ranking["q1"][0]  # doctest: +SKIP
    ('d2', 0.93)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_RETRIEVAL_RERANK_K, RETRIEVAL_DEPTH
from embedlab.retrieval.data import RetrievalData

Progress = Callable[[int, int], None]
Ranking = dict[str, list[tuple[str, float]]]  # query id -> [(document id, score)], best first
BM25 = "BM25"
QUERY_CHUNK = 256  # queries scored against the whole corpus at once: (256, N) float32


@dataclass(frozen=True)
class SystemRun:
    """One system's ranking of the corpus for every query.

    Attributes:
        name: the system in words ("BM25", a scorer's label, "… → re-ranked by …").
        ranking: {query id: [(document id, score), ...]} best first, at most ``RETRIEVAL_DEPTH`` long.
        score_name: what the scores are ("bm25", "cosine", "score").
        passes: model passes this run took here (texts encoded or pairs scored; cached texts cost none).
        seconds: wall time of the run.
        cost: what a run of this system costs, in words.
    """

    name: str
    ranking: Ranking
    score_name: str
    passes: int
    seconds: float
    cost: str


def ranked(doc_ids: Sequence[str], scores: npt.NDArray[np.floating], depth: int) -> list[tuple[str, float]]:
    """The ``depth`` best (document id, score), by score descending, then document id ascending (IRE's order)."""
    order = sorted(range(len(doc_ids)), key=lambda i: (-float(scores[i]), doc_ids[i]))[:depth]
    return [(doc_ids[i], float(scores[i])) for i in order]


def _top(doc_ids: Sequence[str], scores: npt.NDArray[np.floating], depth: int) -> list[tuple[str, float]]:
    """``ranked`` over a long corpus: the candidates are narrowed first (ties at the cut kept)."""
    if len(doc_ids) > 4 * depth:
        threshold = np.partition(scores, -depth)[-depth]
        keep = np.flatnonzero(scores >= threshold)
        return ranked([doc_ids[i] for i in keep], scores[keep], depth)
    return ranked(doc_ids, scores, depth)


def bm25_run(data: RetrievalData, depth: int = RETRIEVAL_DEPTH) -> SystemRun:
    """BM25 (bm25s, Lucene variant) over ``data``: the library's scores, documents scoring 0 left out."""
    import bm25s

    start = time.perf_counter()
    doc_ids = list(data.corpus)
    retriever = bm25s.BM25()
    retriever.index(bm25_tokens(list(data.corpus.values())), show_progress=False)
    ranking: Ranking = {}
    for query_id, query in data.queries.items():
        scores = retriever.get_scores(bm25_tokens([query])[0])
        ranking[query_id] = [(doc_id, score) for doc_id, score in _top(doc_ids, scores, depth) if score > 0]
    cost = f"BM25: an index of {len(doc_ids):,} documents, no model pass"
    return SystemRun(BM25, ranking, "bm25", 0, time.perf_counter() - start, cost)


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """bm25s's tokenizer as words (lower-cased, English stop words out), the same for documents and queries."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


def _normalised(vectors: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def vector_run(
    data: RetrievalData, scorer, depth: int = RETRIEVAL_DEPTH, progress: Progress | None = None
) -> SystemRun:
    """Rank by the cosine of ``scorer``'s sentence vectors (any scorer that ``can("vectors")``).

    ``progress(done, total)`` counts texts: the corpus, then the queries.

    Raises:
        EmbedLabError: the scorer has no sentence vectors (its own refusal).
    """
    scorer.require("vectors", "retrieval by sentence vectors (use it as a re-ranker instead)")
    start, passes_before = time.perf_counter(), scorer.work_done
    doc_ids, doc_texts, query_texts = list(data.corpus), list(data.corpus.values()), list(data.queries.values())
    total = len(doc_texts) + len(query_texts)
    step = (lambda done, _: progress(done, total)) if progress else None
    documents = _normalised(scorer.encode(doc_texts, step))  # (N, dims)
    step = (lambda done, _: progress(len(doc_texts) + done, total)) if progress else None
    queries = _normalised(scorer.encode(query_texts, step))  # (Q, dims)
    ranking: Ranking = {}
    query_ids = list(data.queries)
    for first in range(0, len(query_ids), QUERY_CHUNK):
        cosines = queries[first : first + QUERY_CHUNK] @ documents.T  # (chunk, N)
        for row, query_id in enumerate(query_ids[first : first + QUERY_CHUNK]):
            ranking[query_id] = _top(doc_ids, cosines[row], depth)
    cost = f"{len(doc_texts):,} corpus encodes once (cached per model and text), then one encode per query"
    seconds = time.perf_counter() - start
    return SystemRun(scorer.label, ranking, "cosine", scorer.work_done - passes_before, seconds, cost)


def rerank_run(data: RetrievalData, base: SystemRun, scorer, top_k: int, progress: Progress | None = None) -> SystemRun:
    """Re-score the first ``top_k`` documents of ``base`` per query with ``scorer``'s pair score (a cross-encoder,
    or any scorer: ``scorer.score(pairs)``) and rank them by it; documents below ``top_k`` are not kept.

    Raises:
        EmbedLabError: ``top_k`` outside 1..``MAX_RETRIEVAL_RERANK_K``.
    """
    if not 1 <= top_k <= MAX_RETRIEVAL_RERANK_K:
        raise EmbedLabError(f"Re-rank between 1 and {MAX_RETRIEVAL_RERANK_K} documents per query, not {top_k}.")
    start, passes_before = time.perf_counter(), scorer.work_done
    candidates = {query_id: [doc_id for doc_id, _ in base.ranking[query_id][:top_k]] for query_id in data.queries}
    pairs = [(data.queries[q], data.corpus[d]) for q, docs in candidates.items() for d in docs]
    scores = np.asarray(scorer.score(pairs, progress), dtype=np.float64)
    ranking: Ranking = {}
    at = 0
    for query_id, docs in candidates.items():
        ranking[query_id] = ranked(docs, scores[at : at + len(docs)], top_k)
        at += len(docs)
    name = f"{base.name} → re-ranked by {scorer.label} (top {top_k})"
    cost = f"{base.cost}; then {top_k} pair passes per query ({len(pairs):,} here)"
    seconds = base.seconds + time.perf_counter() - start
    passes = base.passes + scorer.work_done - passes_before
    return SystemRun(name, ranking, scorer.score_name, passes, seconds, cost)
