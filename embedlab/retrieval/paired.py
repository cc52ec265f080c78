"""Is one system really better than another on this data? A paired test over queries.

The p-value is scipy's paired randomisation test (``scipy.stats.permutation_test``, one sample of per-query
differences whose signs are flipped at random: exact when there are few queries, else ``RESAMPLES`` seeded draws),
two-sided; the confidence interval is scipy's bootstrap (percentile) of the mean difference, resampling queries,
seeded. Both use the same per-query metric values the table averages, so the test answers for the number shown.

Example:
    >>> paired_test([0.5, 0.6, 1.0], [1.0, 1.0, 1.0], "nDCG@10", "BM25", "MiniLM").sentence  # doctest: +SKIP
    '+0.300 nDCG@10 for MiniLM over BM25, 95% CI ...'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
CONFIDENCE = 0.95
ALPHA = 0.05
SEED = 0


@dataclass(frozen=True)
class PairedTest:
    """System B against system A on one metric, over the same queries.

    Attributes:
        metric: the metric compared ("nDCG@10").
        system_a, system_b: the two systems' names.
        mean_a, mean_b: their means over the queries.
        difference: mean_b - mean_a (the mean per-query difference).
        ci_low, ci_high: the ``CONFIDENCE`` bootstrap interval of the difference.
        p_value: two-sided randomisation test of "no difference".
        queries: queries compared; b_better, a_better: queries where one system scores higher.
        exact: whether the p-value enumerated every sign pattern (few queries) or drew ``RESAMPLES`` of them.
    """

    metric: str
    system_a: str
    system_b: str
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    queries: int
    b_better: int
    a_better: int
    exact: bool

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def verdict(self) -> str:
        """In words: which system does better on this data, or that the data cannot tell."""
        if not self.significant:
            return f"this data cannot tell them apart (p >= {ALPHA})"
        better, worse = (self.system_b, self.system_a) if self.difference > 0 else (self.system_a, self.system_b)
        return f"{better} does better than {worse} on this data"

    @property
    def sentence(self) -> str:
        """ "+0.031 nDCG@10 for B over A, 95% CI 0.012 to 0.050, p = 0.003 (…): B does better than A on this data"."""
        how = "exact" if self.exact else f"{RESAMPLES:,} seeded draws"
        return (
            f"{self.difference:+.3f} {self.metric} for {self.system_b} over {self.system_a}, "
            f"{CONFIDENCE:.0%} CI {self.ci_low:+.3f} to {self.ci_high:+.3f}, p = {self.p_value:.3g} "
            f"(paired randomisation test over {self.queries:,} queries, {how}; better on {self.b_better}, "
            f"worse on {self.a_better}): {self.verdict}."
        )

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "system_a": self.system_a,
            "system_b": self.system_b,
            "mean_a": round(self.mean_a, 6),
            "mean_b": round(self.mean_b, 6),
            "difference": round(self.difference, 6),
            "ci_low": round(self.ci_low, 6),
            "ci_high": round(self.ci_high, 6),
            "confidence": CONFIDENCE,
            "p_value": round(self.p_value, 6),
            "queries": self.queries,
            "b_better": self.b_better,
            "a_better": self.a_better,
            "exact": self.exact,
            "verdict": self.verdict,
        }


def _mean(values, axis=-1):
    return np.mean(values, axis=axis)


def paired_test(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    metric: str,
    system_a: str,
    system_b: str,
    seed: int = SEED,
) -> PairedTest:
    """Test B against A on per-query values of ``metric`` (the same queries, in the same order).

    Raises:
        ValueError: the two sequences differ in length or are empty.
    """
    from scipy import stats

    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("paired_test needs the same, non-empty, queries for both systems")
    differences = b - a
    exact = 2**differences.size <= RESAMPLES
    if np.all(differences == 0):
        p_value, low, high = 1.0, 0.0, 0.0
    else:
        test = stats.permutation_test(
            (differences,),
            _mean,
            permutation_type="samples",
            vectorized=True,
            n_resamples=RESAMPLES,
            alternative="two-sided",
            rng=np.random.default_rng(seed),
        )
        p_value = float(test.pvalue)
        if np.all(differences == differences[0]):  # one value: every resample is that value
            low = high = float(differences[0])
        else:
            interval = stats.bootstrap(
                (differences,),
                _mean,
                vectorized=True,
                n_resamples=RESAMPLES,
                confidence_level=CONFIDENCE,
                method="percentile",
                rng=np.random.default_rng(seed),
            ).confidence_interval
            low, high = float(interval.low), float(interval.high)
    return PairedTest(
        metric=metric,
        system_a=system_a,
        system_b=system_b,
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        difference=float(differences.mean()),
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        queries=int(differences.size),
        b_better=int(np.sum(differences > 0)),
        a_better=int(np.sum(differences < 0)),
        exact=exact,
    )
