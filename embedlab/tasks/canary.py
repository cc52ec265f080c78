"""The canary: do this model's scores carry any signal at all?

A model can load without an error and still score noise: a cross-encoder with a freshly initialised head, a
checkpoint whose weights did not load, an untrained encoder (``untrained-bert``). Asked through the scorer
interface (``embedlab.scorers``: ``scorer.score`` and ``scorer.random_pair_baseline``), so it works for any kind
with a score. Three things are looked at, in order:

1. NaN or infinite scores (on the paraphrase pairs or the random pairs);
2. constant scores, or a spread that is float32 rounding noise (``embedlab.embedding.precision.noise_reason``);
3. whether the bundled suite's paraphrase pairs (label 1, category paraphrase: reworded, few shared words) beat
   the model's random pairs (seeded mismatched reference sentences): ROC AUC of paraphrases against random pairs
   at least ``MIN_PARAPHRASE_AUC``.

Measured (10 paraphrases against 2,000 random pairs): the packaged all-MiniLM-L6-v2 has AUC 0.9997 (paraphrase
mean 0.748, random mean 0.048); the untrained control 0.826 (0.956 against 0.930: what is left is shared words). A
working model's paraphrases beat nearly all random pairs; 0.95 leaves room on both sides.

Example:
    >>> canary = run_canary(open_scorer("untrained-bert"))  # doctest: +SKIP
    >>> canary.passed, canary.saw  # doctest: +SKIP
    (False, 'its paraphrase pairs beat only 83% of its random pairs ...')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embedlab.embedding.baseline import Baseline
from embedlab.embedding.precision import noise_reason
from embedlab.tasks.negtest import bundled_suite, roc_auc

MIN_PARAPHRASE_AUC = 0.95
PARAPHRASE_CATEGORY = "paraphrase"


@dataclass(frozen=True, eq=False)
class CanaryResult:
    """What the canary saw for one scorer.

    Attributes:
        label: the scorer's label (configuration in words).
        score_name: "cosine", or a model's own "score".
        paraphrase_scores: (n,) float64 scores of the paraphrase pairs.
        baseline: the scorer's random-pair baseline (its sorted scores in ``baseline.cosines``).
        auc: P(a paraphrase pair outscores a random pair), NaN when the scores are NaN, constant or noise.
        problem: None when the scores carry signal, else what is wrong, in words.
    """

    label: str
    score_name: str
    paraphrase_scores: npt.NDArray[np.float64]
    baseline: Baseline
    auc: float
    problem: str | None

    @property
    def passed(self) -> bool:
        return self.problem is None

    @property
    def saw(self) -> str:
        """One sentence: what was measured, and whether it is a signal."""
        if self.problem:
            return f"no signal: {self.problem}"
        return (
            f"signal: its paraphrase pairs beat {self.auc:.2%} of its random pairs (paraphrase mean "
            f"{np.mean(self.paraphrase_scores):.3f}, random mean {self.baseline.mean:.3f})"
        )

    def as_dict(self) -> dict:
        """For JSON: passed, saw, auc (None when undefined), the two means and the random pairs' p95."""
        return {
            "passed": self.passed,
            "saw": self.saw,
            "auc": None if not np.isfinite(self.auc) else round(float(self.auc), 4),
            "paraphrase_mean": _finite(np.mean(self.paraphrase_scores)),
            "random_mean": _finite(self.baseline.mean),
            "random_p95": _finite(self.baseline.p95),
        }


def _finite(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None


def paraphrase_pairs() -> list[tuple[str, str]]:
    """The bundled suite's paraphrase pairs (label 1)."""
    suite = bundled_suite()
    chosen = suite[(suite["category"] == PARAPHRASE_CATEGORY) & (suite["label"] == 1)]
    return list(zip(chosen["sentence1"], chosen["sentence2"], strict=True))


def judge_canary(label: str, score_name: str, paraphrase_scores: npt.ArrayLike, baseline: Baseline) -> CanaryResult:
    """The canary's verdict on scores already computed (see the module's docstring)."""
    scores = np.asarray(paraphrase_scores, dtype=np.float64)
    random_scores = np.asarray(baseline.cosines, dtype=np.float64)
    every = np.concatenate([scores, random_scores])
    auc = float("nan")
    bad = int((~np.isfinite(every)).sum())
    if bad:
        problem = f"{bad} of its {len(every)} scores (paraphrase and random pairs) are NaN or infinite"
    elif reason := noise_reason(every):
        problem = f"its scores are {reason}"
    else:
        auc = roc_auc(np.r_[np.ones(len(scores)), np.zeros(len(random_scores))], every)
        problem = None
        if auc < MIN_PARAPHRASE_AUC:
            problem = (
                f"its paraphrase pairs beat only {auc:.0%} of its random pairs (a working model: at least "
                f"{MIN_PARAPHRASE_AUC:.0%}); paraphrase mean {scores.mean():.3f} against random mean "
                f"{baseline.mean:.3f} (95% of random pairs below {baseline.p95:.3f})"
            )
    return CanaryResult(label, score_name, scores, baseline, auc, problem)


def run_canary(scorer, baseline: Baseline | None = None) -> CanaryResult:
    """Score the paraphrase pairs and the random pairs with ``scorer`` (any kind) and judge them.

    Args:
        baseline: the scorer's random-pair baseline if already computed (else ``scorer.random_pair_baseline()``).
    """
    scores = scorer.score(paraphrase_pairs())
    if baseline is None:
        baseline = scorer.random_pair_baseline()
    return judge_canary(scorer.label, scorer.score_name, scores, baseline)
