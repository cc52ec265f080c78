"""A run's before/after numbers as rows of words: one table for the model card and the Train page.

Example:
    >>> score_rows(before, after)[0]  # doctest: +SKIP
    ('STS Spearman x 100', '79.8', '84.1')
"""

from __future__ import annotations

from embedlab.training.run import Scores


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def score_rows(before: Scores, after: Scores) -> list[tuple[str, str, str]]:
    """(measure, before, after) for each number a run measures, formatted to the digits that mean something.

    Returns:
        Five rows: STS Spearman x 100 ("n/a" without evaluation pairs), the random-pair cosine's mean and 95th
        percentile, the negative-test suite's ROC AUC and its failures (counted over ``before.negtest_pairs``).
    """
    return [
        ("STS Spearman x 100", _number(before.spearman, 1), _number(after.spearman, 1)),
        ("random-pair cosine, mean", _number(before.baseline_mean, 3), _number(after.baseline_mean, 3)),
        ("random-pair cosine, 95th percentile", _number(before.baseline_p95, 3), _number(after.baseline_p95, 3)),
        ("negative-test suite ROC AUC", _number(before.negtest_auc, 3), _number(after.negtest_auc, 3)),
        (
            f"negative-test failures (of {before.negtest_pairs})",
            str(before.negtest_failures),
            str(after.negtest_failures),
        ),
    ]
