"""Retrieval metrics, computed by ir-measures (trec_eval's definitions through pytrec_eval), per query.

``METRICS`` names each measure as the pages show it and as ir-measures parses it. A ranking is handed over with
scores that fall strictly with the rank (``rank_scores``), so ir-measures measures exactly the order the system
gave, ties included, never an order of its own.

Against sentence-transformers' ``InformationRetrievalEvaluator`` (IRE), with relevance 0/1 the numbers are the
same, query by query: nDCG@10 (gains 1, log2 discount, the ideal ranking of min(R, 10) relevant documents),
MRR@10 (1 / rank of the first relevant document in the first 10), Recall@k (relevant found in the first k / R)
and MAP@100 (the precisions at the relevant documents found, over R). Two differences to know: with graded
judgements trec_eval's nDCG uses the grades as gains, where IRE counts every relevant document as 1; and IRE's
MAP@k divides by min(k, R) where trec_eval divides by R, which differs only for a query with more than k relevant
documents. A query that retrieved nothing scores 0 on every measure (ir-measures leaves it out; the mean here
counts it, as IRE does).
"""

from __future__ import annotations

import pandas as pd

from embedlab.retrieval.data import RetrievalData
from embedlab.retrieval.systems import Ranking

# label -> ir-measures name
METRICS: dict[str, str] = {
    "nDCG@10": "nDCG@10",
    "MRR@10": "RR@10",
    "Recall@1": "R@1",
    "Recall@10": "R@10",
    "Recall@100": "R@100",
    "MAP@100": "AP@100",
}
MAIN_METRIC = "nDCG@10"  # the one the paired tests compare by default


def rank_scores(ranking: Ranking) -> dict[str, dict[str, float]]:
    """{query id: {document id: score}} whose scores fall with the rank: ir-measures keeps the given order."""
    return {
        query_id: {doc_id: float(len(ranked) - rank) for rank, (doc_id, _) in enumerate(ranked)}
        for query_id, ranked in ranking.items()
    }


def per_query(data: RetrievalData, ranking: Ranking) -> pd.DataFrame:
    """Every metric of every query.

    Returns:
        DataFrame indexed by query id (``data.queries``' order), one float column per ``METRICS`` label.
    """
    import ir_measures

    measures = {ir_measures.parse_measure(name): label for label, name in METRICS.items()}
    values = pd.DataFrame(0.0, index=pd.Index(list(data.queries), name="query_id"), columns=list(METRICS))
    run = {query_id: docs for query_id, docs in rank_scores(ranking).items() if docs}
    for found in ir_measures.iter_calc(list(measures), data.qrels, run):
        values.loc[found.query_id, measures[found.measure]] = float(found.value)
    return values


def first_relevant_rank(data: RetrievalData, ranking: Ranking) -> dict[str, int | None]:
    """Per query, the rank (1 = first) of its best-placed relevant document, None when it was not retrieved."""
    found = {}
    for query_id in data.queries:
        relevant = data.relevant(query_id)
        ranks = [rank for rank, (doc_id, _) in enumerate(ranking.get(query_id, []), start=1) if doc_id in relevant]
        found[query_id] = ranks[0] if ranks else None
    return found
