"""The random-pair baseline every scorer is read against: seeded mismatched pairs, and what they score.

Light on purpose (numpy only): every kind of scorer (``embedlab.scorers``) and the engine classes import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from embedlab.errors import EmbedLabError

BASELINE_PAIRS = 2000
BASELINE_SEED = 0


@dataclass(frozen=True)
class Baseline:
    """Cosine over mismatched pairs of one configuration: what "unrelated" looks like."""

    mean: float
    p95: float
    n_pairs: int
    cosines: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), compare=False, repr=False)  # sorted

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "p95": self.p95}


def random_pair_indices(n_texts: int, n_pairs: int = BASELINE_PAIRS, seed: int = BASELINE_SEED):
    """Seeded pairs (i, j) with i != j, drawn uniformly. Returns two (n_pairs,) int arrays."""
    if n_texts < 2:
        raise EmbedLabError("A random-pair baseline needs at least two different sentences.")
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_texts, n_pairs)
    offset = rng.integers(1, n_texts, n_pairs)  # never 0: the partner is always another sentence
    return first, (first + offset) % n_texts


def score_percentiles(scores: npt.ArrayLike, baseline: Baseline) -> npt.NDArray[np.float64]:
    """Percentile of each score among the configuration's random-pair cosines (calibration).

    50 means "as similar as a typical unrelated pair", 99 "higher than 99% of random pairs". Ties count half
    (scipy's ``percentileofscore(kind="mean")``). NaN scores, or a baseline without its cosines, give NaN.

    Returns:
        float64 array shaped like ``scores``, values in 0..100.
    """
    values = np.asarray(scores, dtype=np.float64)
    reference = baseline.cosines
    if len(reference) == 0:
        return np.full(values.shape, np.nan)
    below = np.searchsorted(reference, values, side="left")
    at_or_below = np.searchsorted(reference, values, side="right")
    percentiles = (below + at_or_below) / (2 * len(reference)) * 100
    return np.where(np.isnan(values), np.nan, percentiles)
