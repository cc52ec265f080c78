"""Hard negatives for training: for each (query, relevant document) pair of a retrieval set, a document of its
corpus that the model ranks high for the query but that is not judged relevant to it.

The mining is sentence-transformers' own ``mine_hard_negatives`` (no faiss: the exact cosine over the corpus).
It masks every relevant document of a query out of that query's candidates (a query on several rows has all its
relevant documents masked); the NV-Retriever setting ``relative_margin=0.05`` also drops candidates scoring
within 5% of the positive's cosine (likely unjudged paraphrases, false negatives). This module checks the result
once more and drops any row whose negative is a relevant document of its query, or the query's own text.

Some queries are held out of the training pairs (``held_out``, seeded): a run trained on the mined triplets can
be measured on retrieval over those queries before and after (``held_out_data``), never on queries it trained on.

Cost: the corpus's N documents and the M training queries are encoded once by the model (N + M encodes, not
cached between runs: the library encodes them itself), then one (M x N) cosine matrix.

Example:
    >>> mined = mine_negatives(data, load_model("all-MiniLM-L6-v2").st_model, "all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> list(mined.table.columns)  # doctest: +SKIP
    ['sentence1', 'sentence2', 'negative', 'positive cosine', 'negative cosine']
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_MINED_NEGATIVES
from embedlab.retrieval.data import RetrievalData

TRIPLET_COLUMNS = ("sentence1", "sentence2", "negative")  # query, relevant document, mined negative
HELD_OUT_METRICS = ("nDCG@10", "MRR@10", "Recall@10")  # measured before and after a run on the held-out queries
RELATIVE_MARGIN = 0.05  # NV-Retriever's TopK-PercPos (95%): what sentence-transformers' docs recommend
HELD_OUT = 0.2  # share of the queries kept out of the training pairs, to measure retrieval before and after
ENCODE_CHUNK = 256  # texts encoded between two progress reports
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MiningSettings:
    """How negatives are mined.

    Attributes:
        num_negatives: negatives per (query, relevant document) pair; each makes one triplet row.
        range_min: skip the model's first ``range_min`` candidates (besides the relevant ones).
        relative_margin: drop candidates within this share of the positive's cosine (None: keep them).
        held_out: share of the queries kept out of the training pairs (0: none).
        seed: which queries are held out.
    """

    num_negatives: int = 1
    range_min: int = 0
    relative_margin: float | None = RELATIVE_MARGIN
    held_out: float = HELD_OUT
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.num_negatives <= MAX_MINED_NEGATIVES:
            raise EmbedLabError(f"Mine 1 to {MAX_MINED_NEGATIVES} negatives per pair, not {self.num_negatives}.")
        if self.range_min < 0:
            raise EmbedLabError(f"range_min is a rank to skip from (0 or more), not {self.range_min}.")
        if not 0 <= self.held_out < 1:
            raise EmbedLabError(f"Hold out a share of the queries from 0 to below 1, not {self.held_out:g}.")


@dataclass(frozen=True)
class MinedNegatives:
    """Triplets mined from a retrieval set.

    Attributes:
        table: one row per triplet: ``TRIPLET_COLUMNS`` plus the model's cosine of the query to each document.
        data_name: the retrieval set's name; ``data_fingerprint`` its digest (``RetrievalData.fingerprint``).
        model: the model that mined them.
        held_out: the query ids kept out of the training pairs.
        held_out_set: the retrieval set of the held-out queries (whole corpus), None when none is held out: what a
            run trained on the triplets is measured on before and after (``retrieval_scores``).
        n_pairs: (query, relevant document) pairs mined from.
        dropped: rows the check removed (a relevant document or the query itself as its negative).
        seconds: wall time.
        cost: what the mining cost, in words.
    """

    table: pd.DataFrame
    data_name: str
    data_fingerprint: str
    model: str
    held_out: tuple[str, ...]
    held_out_set: RetrievalData | None
    n_pairs: int
    dropped: int
    seconds: float
    cost: str

    @property
    def without_negative(self) -> int:
        """Pairs for which no negative passed the filters."""
        found = self.table.drop_duplicates(["sentence1", "sentence2"]).shape[0]
        return self.n_pairs - found

    def csv(self) -> bytes:
        """The triplets as the CSV ``train --method mnrl --data`` reads (sentence1, sentence2, negative)."""
        return self.table[list(TRIPLET_COLUMNS)].to_csv(index=False).encode("utf-8")


def split_queries(data: RetrievalData, held_out: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training query ids, held-out query ids): ``held_out`` of the queries, at least one when the share is
    above 0, at most all but two (left to train on), drawn with ``seed``; both lists in ``data``'s order."""
    query_ids = list(data.queries)
    n_held = round(len(query_ids) * held_out)
    if held_out > 0:
        n_held = max(1, n_held)
    n_held = max(0, min(n_held, len(query_ids) - 2))  # two queries at least are left to train on
    held = set(random.Random(seed).sample(query_ids, n_held))
    return [q for q in query_ids if q not in held], [q for q in query_ids if q in held]


def held_out_data(data: RetrievalData, query_ids) -> RetrievalData:
    """``data`` with only ``query_ids`` as queries (the whole corpus kept): what a run is measured on."""
    kept = [query_id for query_id in data.queries if query_id in set(query_ids)]
    if not kept:
        raise EmbedLabError(f"No held-out query of {data.name} is left to measure retrieval on.")
    return RetrievalData(
        name=f"{data.name} (held-out queries: {len(kept)})",
        corpus=data.corpus,
        queries={query_id: data.queries[query_id] for query_id in kept},
        qrels={query_id: data.qrels[query_id] for query_id in kept},
    )


def positive_pairs(data: RetrievalData, query_ids) -> pd.DataFrame:
    """One (sentence1 = query, sentence2 = relevant document) row per relevant judgement of ``query_ids``."""
    rows = [
        (data.queries[query_id], data.corpus[doc_id]) for query_id in query_ids for doc_id in data.relevant(query_id)
    ]
    return pd.DataFrame(rows, columns=["sentence1", "sentence2"])


class _Reporting:
    """``st_model`` for the library, its corpus and query encodes made in chunks without the library's progress
    bars (it asks for them), each chunk reported to ``progress(done, total)`` (texts encoded)."""

    def __init__(self, st_model, progress: Progress | None, total: int) -> None:
        self._model, self._progress, self._total, self._done = st_model, progress, total, 0

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def _encode(self, encode, texts, **kwargs):
        import numpy as np

        kwargs["show_progress_bar"] = False
        parts = []
        for first in range(0, len(texts), ENCODE_CHUNK):
            parts.append(encode(texts[first : first + ENCODE_CHUNK], **kwargs))
            self._done += len(texts[first : first + ENCODE_CHUNK])
            if self._progress is not None:
                self._progress(self._done, self._total)
        return np.concatenate(parts)

    def encode_document(self, texts, **kwargs):
        return self._encode(self._model.encode_document, texts, **kwargs)

    def encode_query(self, texts, **kwargs):
        return self._encode(self._model.encode_query, texts, **kwargs)


def mine_negatives(
    data: RetrievalData,
    st_model,
    model_ref: str,
    settings: MiningSettings = MiningSettings(),
    progress: Progress | None = None,
) -> MinedNegatives:
    """Mine hard negatives from ``data``'s corpus for its training queries with ``st_model`` (a
    SentenceTransformer, e.g. ``load_model(ref).st_model``); ``progress(done, total)`` counts texts encoded.

    Raises:
        EmbedLabError: fewer than two training pairs, or a corpus too small for the negatives asked.
    """
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    start = time.perf_counter()
    train_ids, held = split_queries(data, settings.held_out, settings.seed)
    pairs = positive_pairs(data, train_ids)
    if len(pairs) < 2:
        raise EmbedLabError(f"{data.name} has {len(pairs)} training pair(s): mining needs at least 2.")
    corpus = list(dict.fromkeys(data.corpus.values()))
    if len(corpus) < settings.range_min + settings.num_negatives + 1:
        raise EmbedLabError(
            f"The corpus has {len(corpus)} distinct documents: too few to skip {settings.range_min} and mine "
            f"{settings.num_negatives} negative(s) per query. Lower them or give a larger corpus."
        )
    n_queries = len(set(pairs["sentence1"]))
    try:
        mined = mine_hard_negatives(
            Dataset.from_pandas(pairs, preserve_index=False),
            _Reporting(st_model, progress, len(corpus) + n_queries),
            anchor_column_name="sentence1",
            positive_column_name="sentence2",
            corpus=corpus,
            range_min=settings.range_min,
            relative_margin=settings.relative_margin,
            num_negatives=settings.num_negatives,
            sampling_strategy="top",
            output_format="triplet",
            output_scores=True,
            use_faiss=False,
            verbose=False,
        )
    except ValueError as error:  # the library's own check of the settings against the corpus
        raise EmbedLabError(f"Mining refused: {error}") from None
    table = pd.DataFrame(
        {
            "sentence1": mined["sentence1"],
            "sentence2": mined["sentence2"],
            "negative": mined["negative"],
            "positive cosine": [float(scores[0]) for scores in mined["scores"]],
            "negative cosine": [float(scores[1]) for scores in mined["scores"]],
        }
    )
    relevant_texts = {
        data.queries[query_id]: {data.corpus[doc_id] for doc_id in data.relevant(query_id)} for query_id in train_ids
    }
    bad = [
        negative == query or negative in relevant_texts.get(query, ())
        for query, negative in zip(table["sentence1"], table["negative"], strict=True)
    ]
    table = table.loc[[not one for one in bad]].reset_index(drop=True)
    cost = (
        f"{len(corpus):,} corpus encodes and {n_queries:,} query encodes by {model_ref}, once, then a "
        f"{n_queries:,} x {len(corpus):,} cosine matrix"
    )
    return MinedNegatives(
        table=table,
        data_name=data.name,
        data_fingerprint=data.fingerprint,
        model=model_ref,
        held_out=tuple(held),
        held_out_set=held_out_data(data, held) if held else None,
        n_pairs=len(pairs),
        dropped=sum(bad),
        seconds=time.perf_counter() - start,
        cost=cost,
    )


def mining_cost(data: RetrievalData, settings: MiningSettings = MiningSettings()) -> str:
    """What mining ``data`` costs, in words, before it runs (the page states it on the button)."""
    train_ids, _ = split_queries(data, settings.held_out, settings.seed)
    n_queries = len({data.queries[query_id] for query_id in train_ids})
    n_docs = len(set(data.corpus.values()))
    return f"{n_docs:,} corpus encodes + {n_queries:,} query encodes (not cached), then one cosine matrix"


def retrieval_scores(embed: Callable[[list[str]], object], data: RetrievalData) -> dict[str, float]:
    """``HELD_OUT_METRICS`` (means over ``data``'s queries, ir-measures) of ranking ``data``'s corpus by the cosine
    of ``embed``'s vectors: what a training run reports before and after on the held-out queries.

    Args:
        embed: texts -> (len(texts), dims) vectors (a model's own pipeline).
    """
    from embedlab.limits import RETRIEVAL_DEPTH
    from embedlab.retrieval.metrics import per_query
    from embedlab.retrieval.systems import QUERY_CHUNK, _normalised, _top

    doc_ids = list(data.corpus)
    documents = _normalised(embed(list(data.corpus.values())))  # (N, dims)
    queries = _normalised(embed(list(data.queries.values())))  # (Q, dims)
    query_ids = list(data.queries)
    ranking = {}
    for first in range(0, len(query_ids), QUERY_CHUNK):
        cosines = queries[first : first + QUERY_CHUNK] @ documents.T  # (chunk, N)
        for row, query_id in enumerate(query_ids[first : first + QUERY_CHUNK]):
            ranking[query_id] = _top(doc_ids, cosines[row], RETRIEVAL_DEPTH)
    means = per_query(data, ranking).mean()
    return {label: float(means[label]) for label in HELD_OUT_METRICS}
