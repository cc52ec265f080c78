"""Several systems over one data set: the table of systems x metrics, where each query's relevant document
ranked under each system, the paired tests between every two systems, and one query up close.

The command line and the Retrieval page both build a ``RetrievalReport`` from ``SystemRun``s (``systems``); the
page caches each run on its own, so adding a system does not redo the others.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from embedlab.limits import RETRIEVAL_DEPTH
from embedlab.retrieval.data import RetrievalData
from embedlab.retrieval.metrics import MAIN_METRIC, METRICS, first_relevant_rank, per_query
from embedlab.retrieval.paired import PairedTest, paired_test
from embedlab.retrieval.systems import SystemRun

NOT_FOUND = f"not in the first {RETRIEVAL_DEPTH}"


@dataclass(frozen=True)
class RetrievalReport:
    """What a set of runs over one data set measured.

    Attributes:
        data: the data set.
        runs: the systems' runs, in the order given.
        table: one row per system (its name), one column per ``METRICS`` label (means over the queries).
        per_query: {system name: DataFrame of ``metrics.per_query``}.
        ranks: one row per query (index: query id), a "query" column and per system the rank of its best-placed
            relevant document (None: not retrieved).
        tests: the paired test of every two systems on ``metric``.
        metric: the metric the tests compare.
    """

    data: RetrievalData
    runs: tuple[SystemRun, ...]
    table: pd.DataFrame
    per_query: dict[str, pd.DataFrame]
    ranks: pd.DataFrame
    tests: tuple[PairedTest, ...]
    metric: str

    def worst_first(self, system: str) -> pd.DataFrame:
        """``ranks`` ordered by ``system``'s rank, the queries it did not retrieve first, then the worst ranked."""
        order = self.ranks[system].fillna(RETRIEVAL_DEPTH + 1).astype(int)
        return self.ranks.loc[order.sort_values(ascending=False, kind="stable").index]

    def run(self, system: str) -> SystemRun:
        return next(run for run in self.runs if run.name == system)


def build_report(data: RetrievalData, runs: Sequence[SystemRun], metric: str = MAIN_METRIC) -> RetrievalReport:
    """The report of ``runs`` over ``data``; the paired tests compare ``metric`` (a ``METRICS`` label)."""
    runs = tuple(_distinct_names(runs))
    measured = {run.name: per_query(data, run.ranking) for run in runs}
    table = pd.DataFrame({name: values.mean() for name, values in measured.items()}).T[list(METRICS)]
    table.index.name = "system"
    ranks = pd.DataFrame({"query": pd.Series(data.queries)})
    for run in runs:
        ranks[run.name] = pd.Series(first_relevant_rank(data, run.ranking), dtype="Int64")
    tests = tuple(
        paired_test(measured[a.name][metric], measured[b.name][metric], metric, a.name, b.name)
        for a, b in itertools.combinations(runs, 2)
    )
    return RetrievalReport(data, runs, table, measured, ranks, tests, metric)


def _distinct_names(runs: Sequence[SystemRun]) -> list[SystemRun]:
    """The runs, a repeated name numbered ("… (2)") so every column and test names one system."""
    from dataclasses import replace

    seen: dict[str, int] = {}
    named = []
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
        named.append(run if seen[run.name] == 1 else replace(run, name=f"{run.name} ({seen[run.name]})"))
    return named


def query_detail(data: RetrievalData, run: SystemRun, query_id: str, shown: int = 5) -> pd.DataFrame:
    """One query under one system: the first ``shown`` documents it ranked and every relevant document (with its
    rank, or none when it was not retrieved).

    Returns:
        DataFrame with rank (None: not retrieved), document id, text, score (None: not retrieved) and grade
        (0: not judged relevant), best first.
    """
    ranked = run.ranking.get(query_id, [])
    relevant = data.relevant(query_id)
    rows = []
    for rank, (doc_id, score) in enumerate(ranked, start=1):
        if rank <= shown or doc_id in relevant:
            rows.append((rank, doc_id, data.corpus[doc_id], score, relevant.get(doc_id, 0)))
    retrieved = {doc_id for doc_id, _ in ranked}
    rows += [
        (None, doc_id, data.corpus[doc_id], None, grade)
        for doc_id, grade in relevant.items()
        if doc_id not in retrieved
    ]
    frame = pd.DataFrame(rows, columns=["rank", "document", "text", run.score_name, "relevant grade"])
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


MAP_RETRIEVED = 10  # retrieved documents a query brings to the Projection map
MAP_CONTEXT = 40  # other documents of the corpus drawn around them, so the map has a neighbourhood to show


def map_lines(
    data: RetrievalData, run: SystemRun, query_id: str, retrieved: int = MAP_RETRIEVED, context: int = MAP_CONTEXT
) -> str:
    """One query and what ``run`` retrieved for it, as the Projection page's typed sentences (``label<TAB>text``):
    the query, its relevant documents, the first ``retrieved`` other documents the system ranked, and ``context``
    other documents of the corpus (a seeded sample) so that the map has a neighbourhood to show them in.

    Example:
        >>> map_lines(data, run, "q1").splitlines()[0]  # doctest: +SKIP
        'query\tA man is playing a guitar.'
    """
    relevant = data.relevant(query_id)
    ranked = [doc_id for doc_id, _ in run.ranking.get(query_id, [])]
    first = [doc_id for doc_id in ranked if doc_id not in relevant][:retrieved]
    taken = {*relevant, *first}
    others = [doc_id for doc_id in data.corpus if doc_id not in taken]
    rng = random.Random(f"{data.fingerprint}:{query_id}")
    sample = rng.sample(others, min(context, len(others)))
    rows = [("query", data.queries[query_id])]
    rows += [("relevant", data.corpus[doc_id]) for doc_id in relevant]
    rows += [(f"retrieved by {run.name}", data.corpus[doc_id]) for doc_id in first]
    rows += [("other documents", data.corpus[doc_id]) for doc_id in sample]
    return "\n".join(f"{_one_line(label)}\t{_one_line(text)}" for label, text in rows)


def _one_line(text: str) -> str:
    """A text on one line without tabs: the typed-sentences format splits on both."""
    return " ".join(text.split())


def report_json(report: RetrievalReport) -> dict:
    """The report as plain JSON: metrics per system, the tests, per query the ranks (``retrieve --json``)."""
    return {
        "data": report.data.name,
        "queries": len(report.data.queries),
        "documents": len(report.data.corpus),
        "notes": list(report.data.notes),
        "systems": [
            {
                "name": run.name,
                "metrics": {label: round(float(report.table.loc[run.name, label]), 6) for label in METRICS},
                "passes": run.passes,
                "seconds": round(run.seconds, 3),
                "cost": run.cost,
            }
            for run in report.runs
        ],
        "paired_tests": [test.as_dict() for test in report.tests],
        "per_query": [
            {
                "query_id": query_id,
                "query": row["query"],
                "rank": {run.name: None if pd.isna(row[run.name]) else int(row[run.name]) for run in report.runs},
            }
            for query_id, row in report.ranks.iterrows()
        ],
    }
