"""What a score means for this model: the probability that a person calls a pair "same meaning", given its score.

A cosine of 0.83 says little on its own: for one model most unrelated pairs score 0.8, for another a paraphrase
scores 0.6. Calibration fits, on labelled pairs, a monotone map from one scorer's score (a cosine, or a
cross-encoder's own score: the same code, the scorer is never asked its kind) to P(same meaning | score).

Data (``LabelledPairs``): pairs with a 0/1 label (1 = same meaning), from
    - the STS benchmark, binarised: a gold score of at least 4.0 on its 0-5 scale ("mostly equivalent" or better)
      is "same meaning" (``from_scored``; the default: fitted on the train split, reported on the dev split);
    - the project's bundled negative-test suite or a user's labelled file (``label`` column);
    - any file with a ``score`` column instead (``read_labelled_data``: binarised the same way).

Method (``Method``): ``isotonic`` (``sklearn.isotonic.IsotonicRegression``: a non-decreasing step function, no shape
assumed; it needs many pairs, scikit-learn's guide warns it overfits below about a thousand) or ``platt``
(Platt scaling: ``sklearn.linear_model.LogisticRegression`` on the score alone, a sigmoid with two parameters, robust
on a few dozen pairs but it assumes the sigmoid shape). ``auto`` (the default) takes isotonic from
``ISOTONIC_MIN_PAIRS`` pairs on, Platt below: isotonic on the STS train split (5,749 pairs), Platt on the bundled
suite (78 pairs). Both are monotone, so ranking (and so ROC AUC) is unchanged; only what a score is said to mean.

Honest report (``CalibrationReport``), always on pairs NOT used for the fit (another split, or a seeded stratified
part of the same file held out before fitting, ``held_out``):
    - Reliability diagram: ``sklearn.calibration.calibration_curve`` with ``N_BINS`` uniform bins over [0, 1];
      the number of pairs per bin is counted with the same bin rule (``np.searchsorted`` on the inner edges).
    - Brier score: ``sklearn.metrics.brier_score_loss`` (mean squared error of the probability; lower is better).
    - Expected calibration error (ECE): sum over the non-empty bins of (pairs in the bin / all pairs) x
      |fraction that are "same meaning" - mean probability| (Guo et al. 2017, eq. 3), from those same bins.
    - "Before": the raw score clipped to [0, 1] read as a probability (what people do when they read a cosine of
      0.83 as "83 % similar"); "after": the calibrated probability.
    - The threshold for a chosen precision: the lowest score at which the held-out pairs scoring at or above it
      are "same meaning" with at least that precision (``sklearn.metrics.precision_recall_curve``; the lowest such
      threshold keeps the most recall), with a percentile bootstrap interval: ``BOOTSTRAP_RESAMPLES`` resamples of
      the held-out pairs with replacement (numpy ``default_rng(BOOTSTRAP_SEED)``, so the same every run), the
      threshold found in each, the central ``BOOTSTRAP_CONFIDENCE`` of them. Resamples in which no threshold reaches
      the precision are counted and left out of the interval.

Fits are cached per scorer kind, model, configuration, data and method (``cached_calibration``): a page asks again
without refitting.

Example:
    >>> report = cached_calibration(open_scorer("all-MiniLM-L6-v2"), fit_pairs, held_pairs)  # doctest: +SKIP
    >>> f"{report.probability([0.83])[0]:.0%}"  # doctest: +SKIP
    '40%'
"""

from __future__ import annotations

import functools
import hashlib
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
from cachetools import LRUCache

from embedlab import corpora
from embedlab.data.pairfiles import decode_text, parse_pairs_text, read_pairs
from embedlab.data.pairtable import PAIR_COLUMNS, labelled_1_to_n, row_list
from embedlab.errors import EmbedLabError
from embedlab.tasks.negtest import bundled_suite, check_labelled, clean_labelled
from embedlab.tasks.sts import read_scored_pairs, scored_pairs_from_frame

Method = Literal["auto", "isotonic", "platt"]
METHODS: tuple[str, ...] = get_args(Method)
METHOD_WORDS = {
    "isotonic": "isotonic regression (a non-decreasing step function, no shape assumed)",
    "platt": "Platt scaling (a logistic sigmoid of the score, two parameters)",
}
ISOTONIC_MIN_PAIRS = 1_000  # auto: isotonic from this many fit pairs on (it overfits fewer), Platt below
PLATT_C = 1e4  # inverse regularisation of the logistic fit: next to none, the two parameters are the sigmoid's own
STS_SAME_MEANING = 4.0  # on the STS 0-5 scale: 4 = "mostly equivalent"; at or above it a pair is "same meaning"
STS_SCALE = 5.0
MIN_PAIRS_PER_LABEL = 2  # a fit needs at least this many pairs of each label
HELD_OUT_FRACTION = 0.3  # of one file, when no other pairs are given to report on
SPLIT_SEED = 0
N_BINS = 10
DEFAULT_PRECISION = 0.9
FLAT_NOTE = (
    "; these scores rank pairs of the same meaning LOWER on the fit pairs, so every score gets the same probability "
    "(the share of same-meaning pairs): the score carries no usable signal here"
)
BOOTSTRAP_RESAMPLES = 1_000
BOOTSTRAP_SEED = 0
BOOTSTRAP_CONFIDENCE = 0.95
CACHE_SIZE = 16  # fits kept per process (each holds two small arrays and a fitted model)

Progress = Callable[[str, int, int], None]  # (stage: "fit" or "held out", done, total) in the scorer's own units


# ---------------------------------------------------------------- labelled pairs


@dataclass(frozen=True)
class LabelledPairs:
    """Pairs with a "same meaning" label.

    Attributes:
        name: where they come from, for reports ("sts-train.csv", "the bundled suite").
        sentence1, sentence2: the texts; pair i is (sentence1[i], sentence2[i]).
        labels: 1 = same meaning, 0 = not.
        how: how the labels were made ("label column", "STS score >= 4.0 of 5").
    """

    name: str
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    labels: tuple[int, ...]
    how: str = "label column"
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        for first, second, label in zip(self.sentence1, self.sentence2, self.labels, strict=True):
            digest.update(f"{first}\t{second}\t{label}\n".encode())
        object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return list(zip(self.sentence1, self.sentence2, strict=True))

    def subset(self, positions: Sequence[int], name: str) -> LabelledPairs:
        return LabelledPairs(
            name,
            tuple(self.sentence1[i] for i in positions),
            tuple(self.sentence2[i] for i in positions),
            tuple(self.labels[i] for i in positions),
            self.how,
        )


def from_scored(pairs, cut: float = STS_SAME_MEANING) -> LabelledPairs:
    """STS-style scored pairs (``tasks.sts.ScoredPairs``) binarised: gold >= ``cut`` on the 0-5 scale is "same
    meaning" (``cut`` is rescaled for a file on the 0-1 scale)."""
    threshold = cut * pairs.scale / STS_SCALE
    return LabelledPairs(
        pairs.name,
        tuple(pairs.sentence1),
        tuple(pairs.sentence2),
        tuple(int(gold >= threshold) for gold in pairs.gold),
        f"STS score >= {cut:g} of {STS_SCALE:g}",
    )


def from_labelled_frame(frame: pd.DataFrame, name: str) -> LabelledPairs:
    """Validated labelled pairs (``tasks.negtest.clean_labelled``'s frame) as ``LabelledPairs``."""
    return LabelledPairs(
        name,
        tuple(str(text) for text in frame["sentence1"]),
        tuple(str(text) for text in frame["sentence2"]),
        tuple(int(label) for label in frame["label"]),
    )


def labelled_from_frame(frame: pd.DataFrame, name: str) -> LabelledPairs:
    """Pairs of a parsed file: its ``label`` column (0/1), else its ``score`` column binarised (``from_scored``).

    Raises:
        EmbedLabError: neither column (saying which are needed), or a bad label or score (naming the row).
    """
    if "label" in frame.columns:
        check = check_labelled(labelled_1_to_n(frame), name)  # bad labels refused; too few is check_labels' to say
        if check.incomplete:
            clean_labelled(frame, name)  # raises its message naming the first incomplete row
        return from_labelled_frame(check.pairs, name)
    if "score" in frame.columns:
        return from_scored(scored_pairs_from_frame(frame, name, min_pairs=1, purpose="calibration"))
    raise EmbedLabError(
        f"{name} has no label column: calibration needs sentence1, sentence2 and label (1 = same meaning, "
        f"0 = not), or a score column on the STS 0-5 scale (a score of {STS_SAME_MEANING:g} or more counts as "
        "same meaning)."
    )


def read_labelled_data(path: str | Path) -> LabelledPairs:
    """A labelled (or STS-scored) pair file, see ``labelled_from_frame``."""
    return labelled_from_frame(read_pairs(path, PAIR_COLUMNS), Path(path).name)


def parse_labelled_data(data: bytes, name: str = "file") -> LabelledPairs:
    """Uploaded bytes, see ``labelled_from_frame``."""
    return labelled_from_frame(parse_pairs_text(decode_text(data, name), PAIR_COLUMNS, name), name)


def bundled_labelled() -> LabelledPairs:
    """The project's own labelled negative-test suite."""
    return from_labelled_frame(bundled_suite(), "the bundled negative-test suite")


@dataclass(frozen=True)
class CalibrationSets:
    """The pairs a page fits on and judges on by default, and what they are in words (``note``)."""

    fit: LabelledPairs
    held: LabelledPairs
    note: str
    sts: bool


_counted: LRUCache[tuple[str, str], tuple[int, int]] = LRUCache(maxsize=32)
_counted_lock = threading.Lock()  # sessions run in threads; an LRUCache is not safe to share without one


def distinct_counts(sets: CalibrationSets) -> tuple[int, int]:
    """(distinct sentences, distinct pairs) over the fit and held-out pairs, counted once per pair of sets (keyed on
    their fingerprints): the STS train split holds 5,749 pairs, and counting them on every run of a page cost more
    than the rest of its section."""
    key = (sets.fit.fingerprint, sets.held.fingerprint)
    with _counted_lock:
        counts = _counted.get(key)
    if counts is None:
        pairs = [*sets.fit.pairs, *sets.held.pairs]
        counts = (len({text for pair in pairs for text in pair}), len(set(pairs)))
        with _counted_lock:
            _counted[key] = counts
    return counts


def default_sets() -> CalibrationSets:
    """The STS train split (fit) and dev split (held out) binarised at ``STS_SAME_MEANING`` when they sit beside the
    repository (``corpora.sts_splits``); otherwise the bundled negative-test suite, split by ``held_out``, with a
    note saying so. Read once per process (again when a file changes)."""
    splits = corpora.sts_splits()
    stamps = tuple((str(path), path.stat().st_mtime_ns) for _, path in sorted(splits.items()))
    return _default_sets(stamps, corpora.NEGTEST_FILE.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _default_sets(stamps: tuple[tuple[str, int], ...], suite_mtime_ns: int) -> CalibrationSets:
    splits = corpora.sts_splits()
    if set(splits) >= {"train", "dev"}:
        fit, held = from_scored(read_scored_pairs(splits["train"])), from_scored(read_scored_pairs(splits["dev"]))
        return CalibrationSets(
            fit,
            held,
            f"fitted on the STS benchmark train split ({len(fit):,} pairs), judged on its dev split ({len(held):,} "
            f"pairs, none used for the fit); a gold score of {STS_SAME_MEANING:g} or more of {STS_SCALE:g} counts as "
            "same meaning",
            True,
        )
    fit, held = held_out(bundled_labelled())
    return CalibrationSets(
        fit,
        held,
        f"the STS benchmark splits are not here ({corpora.STS_BENCHMARK_DIR.name}/ beside the repository), so this "
        f"is fitted on {len(fit)} pairs of the bundled negative-test suite and judged on the other {len(held)}: a "
        "small set built to be hard (negations, role reversals score high), so its probabilities are rough",
        False,
    )


def check_labels(labels: Sequence[int], name: str) -> None:
    """Refuse labels a calibration cannot be fitted or judged on.

    Raises:
        EmbedLabError: no pairs, too few, or fewer than ``MIN_PAIRS_PER_LABEL`` of a label (all one class).
    """
    if len(labels) == 0:
        raise EmbedLabError(f"{name} has no pairs: calibration needs labelled pairs (1 = same meaning, 0 = not).")
    counts = {label: sum(1 for value in labels if value == label) for label in (0, 1)}
    if len(labels) < 2 * MIN_PAIRS_PER_LABEL:
        raise EmbedLabError(
            f"{name} has {len(labels)} pair{'s' * (len(labels) != 1)}: calibration needs at least "
            f"{MIN_PAIRS_PER_LABEL} of each label (1 = same meaning, 0 = not)."
        )
    for label, words in ((1, "same meaning (label 1)"), (0, "not the same meaning (label 0)")):
        if counts[label] < MIN_PAIRS_PER_LABEL:
            every = "every" if counts[label] == 0 else "all but one"
            raise EmbedLabError(
                f"{name} has {counts[label]} pair{'s' * (counts[label] != 1)} of {words}: {every} label is the "
                f"other one. A probability of 'same meaning' needs at least {MIN_PAIRS_PER_LABEL} pairs of each."
            )


def held_out(
    pairs: LabelledPairs, fraction: float = HELD_OUT_FRACTION, seed: int = SPLIT_SEED
) -> tuple[LabelledPairs, LabelledPairs]:
    """Split one set into (fit, held out): a seeded split stratified on the label
    (``sklearn.model_selection.train_test_split``), so both parts hold both labels in the same proportion.

    Raises:
        EmbedLabError: too few pairs of a label to leave ``MIN_PAIRS_PER_LABEL`` of each on both sides.
    """
    from sklearn.model_selection import train_test_split

    check_labels(pairs.labels, pairs.name)
    labels = np.asarray(pairs.labels)
    if min(np.sum(labels == 0), np.sum(labels == 1)) < 2 * MIN_PAIRS_PER_LABEL:
        raise EmbedLabError(
            f"{pairs.name} is too small to hold pairs out: give at least {2 * MIN_PAIRS_PER_LABEL} pairs of each "
            "label, or another file to report on."
        )
    fit, held = train_test_split(np.arange(len(pairs)), test_size=fraction, random_state=seed, stratify=labels)
    share = f"{fraction:.0%} held out, seed {seed}"
    return (
        pairs.subset(sorted(fit), f"{pairs.name} ({1 - fraction:.0%} for the fit)"),
        pairs.subset(sorted(held), f"{pairs.name} ({share})"),
    )


# ---------------------------------------------------------------- fitting


def check_scores(scores: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """Scores as float64; refused when any is NaN or infinite (naming the rows, numbered from 1).

    Raises:
        EmbedLabError: a score that is not a number.
    """
    values = np.asarray(scores, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise EmbedLabError(
            f"{name}: {row_list([int(i) + 1 for i in bad])} scored no number (NaN): a probability cannot be fitted "
            "on them. Remove those pairs (an empty sentence, a text the model cannot read) and try again."
        )
    return values


def chosen_method(method: str, n_pairs: int) -> str:
    """The method ``auto`` stands for with ``n_pairs`` fit pairs; a named method as is.

    Raises:
        EmbedLabError: not one of ``METHODS``.
    """
    if method not in METHODS:
        raise EmbedLabError(f"Unknown calibration method {method!r}: one of {', '.join(METHODS)}.")
    if method != "auto":
        return method
    return "isotonic" if n_pairs >= ISOTONIC_MIN_PAIRS else "platt"


def method_reason(method: str, asked: str, n_pairs: int) -> str:
    """Why this method, in words."""
    if asked != "auto":
        return f"{METHOD_WORDS[method]}, as asked"
    if method == "isotonic":
        return f"{METHOD_WORDS[method]}: {n_pairs:,} fit pairs are enough for it (auto: from {ISOTONIC_MIN_PAIRS:,})"
    return (
        f"{METHOD_WORDS[method]}: {n_pairs:,} fit pairs are too few for isotonic regression, which overfits below "
        f"about {ISOTONIC_MIN_PAIRS:,} (auto)"
    )


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from a score to P(same meaning). ``model`` is the fitted scikit-learn estimator."""

    method: str
    model: object = field(repr=False)
    flat: bool = False  # the scores rank "same meaning" pairs lower: every score gets the base rate

    def probability(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """(n,) probabilities in [0, 1]; a NaN score (a pair not scored) gives NaN."""
        values = np.asarray(scores, dtype=np.float64).reshape(-1)
        result = np.full(values.shape, np.nan)
        known = np.isfinite(values)
        if known.any():
            if self.method == "isotonic":
                result[known] = self.model.predict(values[known])
            else:
                result[known] = self.model.predict_proba(values[known, None])[:, 1]
        return result


def fit_calibrator(scores: npt.ArrayLike, labels: Sequence[int], method: str = "isotonic") -> Calibrator:
    """Fit ``method`` ("isotonic" or "platt") on scores and 0/1 labels (checked: see ``check_labels``)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    values = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(labels, dtype=np.int64)
    if method == "isotonic":
        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        model.fit(values, targets)
    elif method == "platt":
        model = LogisticRegression(C=PLATT_C)
        model.fit(values[:, None], targets)
        if model.coef_[0, 0] < 0:  # a decreasing sigmoid would read a higher score as less similar: refuse that shape
            rate = float(np.clip(targets.mean(), 1e-6, 1 - 1e-6))
            model.coef_[:] = 0.0
            model.intercept_[:] = math.log(rate / (1 - rate))
            return Calibrator(method, model, flat=True)
    else:
        raise EmbedLabError(f"Unknown calibration method {method!r}: isotonic or platt.")
    return Calibrator(method, model)


# ---------------------------------------------------------------- judging


@dataclass(frozen=True)
class Reliability:
    """How well probabilities match outcomes on held-out pairs.

    Attributes:
        mean_probability: per non-empty bin, the mean probability given (x of the reliability diagram).
        fraction_positive: per non-empty bin, the fraction that are "same meaning" (y; on the diagonal if
            perfectly calibrated).
        counts: pairs per non-empty bin.
        brier: Brier score (mean squared error; 0 is perfect).
        ece: expected calibration error over ``N_BINS`` uniform bins (0 is perfect).
    """

    mean_probability: tuple[float, ...]
    fraction_positive: tuple[float, ...]
    counts: tuple[int, ...]
    brier: float
    ece: float


def reliability(labels: npt.ArrayLike, probabilities: npt.ArrayLike, n_bins: int = N_BINS) -> Reliability:
    """The reliability diagram, Brier score and ECE of ``probabilities`` (in [0, 1]) against 0/1 ``labels``."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    truth = np.asarray(labels, dtype=np.int64)
    given = np.asarray(probabilities, dtype=np.float64)
    fraction_positive, mean_probability = calibration_curve(truth, given, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    totals = np.bincount(np.searchsorted(edges[1:-1], given), minlength=n_bins)  # calibration_curve's own bins
    counts = totals[totals > 0]
    ece = float(np.sum(counts / len(given) * np.abs(fraction_positive - mean_probability)))
    return Reliability(
        tuple(float(v) for v in mean_probability),
        tuple(float(v) for v in fraction_positive),
        tuple(int(v) for v in counts),
        float(brier_score_loss(truth, given)),
        ece,
    )


def threshold_for_precision(labels: npt.ArrayLike, scores: npt.ArrayLike, precision: float) -> float | None:
    """The lowest score t such that the pairs scoring >= t are "same meaning" with at least ``precision``
    (``sklearn.metrics.precision_recall_curve``); None when no threshold reaches it."""
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(labels)
    if truth.min() == truth.max():
        return None
    precisions, _, thresholds = precision_recall_curve(truth, scores)
    reached = np.flatnonzero(precisions[:-1] >= precision)  # the last point (recall 0) has no threshold
    return float(thresholds[reached[0]]) if reached.size else None


@dataclass(frozen=True)
class PrecisionThreshold:
    """The threshold for a chosen precision on held-out pairs, with its bootstrap interval.

    Attributes:
        precision: the precision asked for.
        threshold: the score (cosine or the scorer's own) at or above which pairs reach it; None: none does.
        achieved: the precision at that threshold on the held-out pairs, recall: the share of "same meaning"
            pairs it keeps (NaN when there is no threshold).
        low, high: the percentile bootstrap interval (``BOOTSTRAP_CONFIDENCE``), None when no resample reaches it.
        resamples: how many resamples were drawn; reached: in how many a threshold reached the precision.
    """

    precision: float
    threshold: float | None
    achieved: float
    recall: float
    low: float | None
    high: float | None
    resamples: int
    reached: int


def precision_threshold(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    precision: float = DEFAULT_PRECISION,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> PrecisionThreshold:
    """``threshold_for_precision`` on the pairs, and again on ``resamples`` seeded bootstrap resamples of them."""
    if not 0.0 < precision <= 1.0:
        raise EmbedLabError(f"The precision must be above 0 and at most 1, not {precision}.")
    truth = np.asarray(labels, dtype=np.int64)
    values = np.asarray(scores, dtype=np.float64)
    threshold = threshold_for_precision(truth, values, precision)
    achieved = recall = math.nan
    if threshold is not None:
        kept = values >= threshold
        achieved = float(truth[kept].mean())
        recall = float(truth[kept].sum() / max(1, truth.sum()))
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(resamples):
        pick = rng.integers(0, len(truth), len(truth))
        value = threshold_for_precision(truth[pick], values[pick], precision)
        if value is not None:
            found.append(value)
    tail = (1.0 - BOOTSTRAP_CONFIDENCE) / 2 * 100
    low, high = (float(v) for v in np.percentile(found, [tail, 100 - tail])) if found else (None, None)
    return PrecisionThreshold(precision, threshold, achieved, recall, low, high, resamples, len(found))


@dataclass(frozen=True)
class CalibrationReport:
    """One scorer's calibration: fitted on one set of pairs, judged on another.

    Attributes:
        label: the scorer's configuration in words; score_name: "cosine" or "score".
        method: "isotonic" or "platt"; method_why: why, in words.
        fit_name, n_fit, held_name, n_held: the two sets and their sizes; how: how their labels were made.
        before: the raw score clipped to [0, 1] read as a probability, on the held-out pairs; after: calibrated.
        threshold: the score for the chosen precision on the held-out pairs, with its bootstrap interval.
        calibrator: the fitted map (``probability``).
    """

    label: str
    score_name: str
    method: str
    method_why: str
    fit_name: str
    n_fit: int
    held_name: str
    n_held: int
    how: str
    before: Reliability
    after: Reliability
    threshold: PrecisionThreshold
    calibrator: Calibrator = field(repr=False)

    def probability(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return self.calibrator.probability(scores)

    def as_json(self) -> dict:
        """The report as plain JSON values (None where undefined)."""

        def number(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else round(float(value), 6)

        def judged(part: Reliability) -> dict:
            return {
                "brier": number(part.brier),
                "ece": number(part.ece),
                "bins": [
                    {"mean_probability": number(x), "fraction_same_meaning": number(y), "pairs": n}
                    for x, y, n in zip(part.mean_probability, part.fraction_positive, part.counts, strict=True)
                ],
            }

        threshold = self.threshold
        return {
            "configuration": self.label,
            "score_name": self.score_name,
            "method": self.method,
            "method_why": self.method_why,
            "labels": self.how,
            "fit": {"data": self.fit_name, "pairs": self.n_fit},
            "held_out": {"data": self.held_name, "pairs": self.n_held},
            "before": judged(self.before),
            "after": judged(self.after),
            "threshold": {
                "precision": threshold.precision,
                self.score_name: number(threshold.threshold),
                "achieved_precision": number(threshold.achieved),
                "recall": number(threshold.recall),
                "interval": [number(threshold.low), number(threshold.high)],
                "confidence": BOOTSTRAP_CONFIDENCE,
                "resamples": threshold.resamples,
                "resamples_reaching_it": threshold.reached,
            },
        }

    def text_lines(self) -> list[str]:
        """The report as text lines (what ``calibrate`` prints without ``--json``)."""
        threshold = self.threshold
        lines = [
            f"{self.label}: P(same meaning | {self.score_name}) by {self.method_why}",
            f"fitted on {self.fit_name} ({self.n_fit:,} pairs), judged on {self.held_name} ({self.n_held:,} pairs "
            f"not used for the fit); labels: {self.how}",
            f"{'':<36} {'Brier':>7} {'ECE':>7}",
            f"{f'before: raw {self.score_name} as a probability':<36} {self.before.brier:7.4f} {self.before.ece:7.4f}",
            f"{'after: calibrated':<36} {self.after.brier:7.4f} {self.after.ece:7.4f}",
        ]
        lines.append(threshold_text(threshold, self.score_name))
        grid = np.round(np.linspace(0.0, 1.0, 11), 1)
        lines.append(
            "what a score means: "
            + ", ".join(f"{v:.1f} -> {p:.0%}" for v, p in zip(grid, self.probability(grid), strict=True))
        )
        return lines


def threshold_text(threshold: PrecisionThreshold, score_name: str = "cosine") -> str:
    """The precision threshold in one sentence."""
    asked = f"precision {threshold.precision:.0%}"
    if threshold.threshold is None:
        return f"{asked}: no threshold reaches it on the held-out pairs"
    interval = (
        f"{BOOTSTRAP_CONFIDENCE:.0%} bootstrap interval {threshold.low:.3f}-{threshold.high:.3f} "
        f"({threshold.reached} of {threshold.resamples} resamples reach it)"
        if threshold.low is not None
        else "no bootstrap interval: no resample reaches it"
    )
    return (
        f"{asked}: {score_name} >= {threshold.threshold:.3f} (precision {threshold.achieved:.1%}, recall "
        f"{threshold.recall:.1%} on the held-out pairs); {interval}"
    )


def calibrate_scores(
    fit_scores: npt.ArrayLike,
    fit_labels: Sequence[int],
    held_scores: npt.ArrayLike,
    held_labels: Sequence[int],
    method: str = "auto",
    precision: float = DEFAULT_PRECISION,
    label: str = "scores",
    score_name: str = "cosine",
    names: tuple[str, str] = ("the fit pairs", "the held-out pairs"),
    how: str = "label column",
) -> CalibrationReport:
    """Fit on one set of scored pairs and judge on another (see the module docstring). Pure: no model.

    Raises:
        EmbedLabError: too few pairs or one label only in either set, a NaN score, an unknown method, or a
            precision outside (0, 1].
    """
    fit_name, held_name = names
    check_labels(fit_labels, fit_name)
    check_labels(held_labels, held_name)
    fit_values = check_scores(fit_scores, fit_name)
    held_values = check_scores(held_scores, held_name)
    if not 0.0 < precision <= 1.0:
        raise EmbedLabError(f"The precision must be above 0 and at most 1, not {precision}.")
    method_used = chosen_method(method, len(fit_labels))
    calibrator = fit_calibrator(fit_values, fit_labels, method_used)
    return CalibrationReport(
        label=label,
        score_name=score_name,
        method=method_used,
        method_why=method_reason(method_used, method, len(fit_labels)) + (FLAT_NOTE if calibrator.flat else ""),
        fit_name=fit_name,
        n_fit=len(fit_labels),
        held_name=held_name,
        n_held=len(held_labels),
        how=how,
        before=reliability(held_labels, np.clip(held_values, 0.0, 1.0)),
        after=reliability(held_labels, calibrator.probability(held_values)),
        threshold=precision_threshold(held_labels, held_values, precision),
        calibrator=calibrator,
    )


def calibrate(
    scorer,
    fit: LabelledPairs,
    held: LabelledPairs,
    method: str = "auto",
    precision: float = DEFAULT_PRECISION,
    progress: Progress | None = None,
) -> CalibrationReport:
    """Score ``fit`` and ``held`` with ``scorer`` (any kind: ``scorer.score``), then ``calibrate_scores``.

    ``progress(stage, done, total)`` reports the scoring of the fit pairs (stage "fit"), then of the held-out ones
    ("held out"), in the scorer's own units (texts encoded for a vector kind, pairs for a cross-encoder).
    """
    check_labels(fit.labels, fit.name)
    check_labels(held.labels, held.name)
    chosen_method(method, len(fit))  # an unknown method is refused before any scoring

    def stage(name: str):
        if progress is None:
            return None
        return lambda done, total: progress(name, done, total)

    fit_scores = scorer.score(fit.pairs, stage("fit"))
    held_scores = scorer.score(held.pairs, stage("held out"))
    return calibrate_scores(
        fit_scores,
        fit.labels,
        held_scores,
        held.labels,
        method,
        precision,
        scorer.label,
        scorer.score_name,
        (fit.name, held.name),
        fit.how if fit.how == held.how else f"{fit.how} (fit); {held.how} (held out)",
    )


_CACHE: LRUCache[tuple, CalibrationReport] = LRUCache(maxsize=CACHE_SIZE)
_CACHE_LOCK = threading.Lock()


def calibration_key(scorer, fit: LabelledPairs, held: LabelledPairs, method: str, precision: float) -> tuple:
    """What a fit depends on: the scorer's kind, model and configuration, both sets' contents, method, precision."""
    return (type(scorer).kind, scorer.model_id, scorer.spec, fit.fingerprint, held.fingerprint, method, precision)


def cached_calibration(
    scorer,
    fit: LabelledPairs,
    held: LabelledPairs,
    method: str = "auto",
    precision: float = DEFAULT_PRECISION,
    progress: Progress | None = None,
) -> CalibrationReport:
    """``calibrate``, kept for the process (the last ``CACHE_SIZE`` fits): asked again, nothing is scored."""
    key = calibration_key(scorer, fit, held, method, precision)
    with _CACHE_LOCK:
        kept = _CACHE.get(key)  # a hit counts as a use
    if kept is not None:
        return kept
    report = calibrate(scorer, fit, held, method, precision, progress)  # outside the lock: scoring takes a while
    with _CACHE_LOCK:
        _CACHE[key] = report
    return report


def cached_report(scorer, fit: LabelledPairs, held: LabelledPairs, method: str, precision: float):
    """The cached report of this scorer and data, or None when it has not been fitted (nothing is scored)."""
    with _CACHE_LOCK:
        return _CACHE.get(calibration_key(scorer, fit, held, method, precision))
