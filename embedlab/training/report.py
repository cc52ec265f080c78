"""A run's before/after numbers as rows of words: one table for the model card and the Train page.

Example:
    >>> score_rows(before, after)[0]  # doctest: +SKIP
    ('STS Spearman x 100', '79.8', '84.1')
"""

from __future__ import annotations

from embedlab.training.run import Scores


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def score_rows(before: Scores, after: Scores, *others: Scores) -> list[tuple[str, ...]]:
    """(measure, before, after, *others) for each number a run measures, formatted to the digits that mean
    something; ``others`` are models measured the same way beside the run (a service, another saved model).

    Returns:
        For a matryoshka run, first the STS Spearman of the first k dimensions for each k it trained
        (``Scores.by_dims``); then five rows: STS Spearman x 100 ("n/a" without evaluation pairs), the random-pair
        cosine's mean and 95th percentile, the negative-test suite's ROC AUC and its failures (counted over
        ``before.negtest_pairs``).
    """
    columns = (before, after, *others)
    by_dims = [
        (
            f"STS Spearman x 100, first {k} dimensions",
            *(_number(dict(scores.by_dims).get(k), 1) for scores in columns),
        )
        for k, _ in before.by_dims
    ]
    return [
        *by_dims,
        ("STS Spearman x 100", *(_number(scores.spearman, 1) for scores in columns)),
        ("random-pair cosine, mean", *(_number(scores.baseline_mean, 3) for scores in columns)),
        ("random-pair cosine, 95th percentile", *(_number(scores.baseline_p95, 3) for scores in columns)),
        ("negative-test suite ROC AUC", *(_number(scores.negtest_auc, 3) for scores in columns)),
        (f"negative-test failures (of {before.negtest_pairs})", *(str(scores.negtest_failures) for scores in columns)),
        *_retrieval_rows(columns),
    ]


def _retrieval_rows(columns: tuple[Scores, ...]) -> list[tuple[str, ...]]:
    """Retrieval on the held-out queries, when the run's data was mined from a retrieval set (a model measured
    beside the run without it shows n/a)."""
    if columns[0].retrieval is None:
        return []
    return [
        (
            f"{label} on held-out queries",
            *(_number(None if scores.retrieval is None else scores.retrieval.get(label), 3) for scores in columns),
        )
        for label in columns[0].retrieval
    ]
