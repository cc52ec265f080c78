"""Negative testing of similarity scores: do pairs that should NOT match stay below pairs that should?

Input: labelled pairs, 1 = should be similar, 0 = should not (columns sentence1, sentence2, label; an optional
category column is kept). For one configuration (an ``EmbedSpec``) this module scores every pair and reports:

- ROC AUC: the probability that a random positive pair scores above a random negative one (ties count half),
  computed from average ranks (Mann-Whitney U); equal to ``sklearn.metrics.roc_auc_score``.
- A threshold: the user's, or the best one, chosen by maximising Youden's J = TPR - FPR over every observed
  score used as threshold (a pair "matches" when cosine >= threshold); among equally good thresholds the highest
  (the strictest), as ``sklearn.metrics.roc_curve`` lists them.
- Failures: negatives at or above the threshold and positives below it, worst first (furthest on the wrong
  side of the threshold).
- A verdict line a teacher can read aloud, and a summary table across configurations.

A cross-encoder (``embedlab.models.cross``) is judged the same way from its own scores (``run_scorer_negtest``: a
sigmoid 0..1 per pair, read from both sentences at once, beside its own random-pair baseline); ``category_failures``
and ``caught_by_cross`` show whether it catches the pairs every bi-encoder fails (role reversals, negations).

Row numbers: messages and the failures' ``row`` name a pair by its label in the pairs' index. Files (and the
``negtest`` command) number data rows from 1: row 1 is the first row under the header. The app's table keeps the
row numbers its editor shows (``check_labelled``: incomplete rows are set aside there, not refused).

Example:
    >>> pairs = read_labelled_pairs("assets/negtest_pairs.csv")
    >>> result = run_negtest(encoder, EmbedSpec("all-MiniLM-L6-v2"), pairs)
    >>> result.auc, result.threshold, len(result.failures)
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import rankdata

from embedlab.corpora import NEGTEST_FILE
from embedlab.data.pairfiles import decode_text, parse_pairs_text, read_pairs
from embedlab.data.pairtable import PAIR_COLUMNS, cell_text, clean_columns, labelled_1_to_n, row_list
from embedlab.embedding.encoder import Encoder, Progress
from embedlab.embedding.precision import noise_reason
from embedlab.embedding.readability import pair_readability
from embedlab.embedding.scoring import Baseline, pair_cosines, random_pair_baseline, score_percentiles
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError

LABELLED_COLUMNS = (*PAIR_COLUMNS, "label")
EDITOR_COLUMNS = [*PAIR_COLUMNS, "label", "category"]
MAX_QUOTED_LABEL = 3  # a bad label up to this long is quoted ("2", "yes"); a longer cell could be any line of a file

BEST = "best"  # threshold_how when chosen from the data
USER = "set"
BI_ENCODER = "bi-encoder"  # NegTestResult.kind of every scorer with vectors: cosines of two sentence vectors
THRESHOLD_HOW = {
    BEST: "best separation: maximises Youden's J = true-positive rate - false-positive rate",
    USER: "set by you",
}
FAILURE_COLUMNS = [
    "row",
    "cosine",
    "kind",
    "sentence1",
    "sentence2",
    "label",
    "category",
    "percentile",
    "margin",
    "note",
]


# ---------------------------------------------------------------- input


def _label_value(value: object) -> int | None:
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number in (0.0, 1.0) else None


def _whole_number(value: object) -> int | None:
    """A whole number (check_labelled then refuses anything but 0/1), else None (no label)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if np.isfinite(number) and number == int(number) else None


def editor_table(frame: pd.DataFrame) -> pd.DataFrame:
    """What the page's table editor holds: strings for sentences and category, nullable ints for label.

    Keeps ``frame``'s index: it is the row numbering the editor shows and every message uses.
    """
    table = clean_columns(frame, (*PAIR_COLUMNS, "category"))
    labels = frame["label"] if "label" in frame.columns else [None] * len(frame)
    table["label"] = pd.array([_whole_number(value) for value in labels], dtype="Int64")
    return table[EDITOR_COLUMNS]


def renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """A new editor table, rows labelled 1..n (only when the editor is mounted with it)."""
    return labelled_1_to_n(editor_table(frame))


@dataclass(frozen=True)
class LabelledCheck:
    """Which rows of a labelled table can be tested.

    Attributes:
        pairs: the complete rows: sentence1, sentence2 (str), label (int 0/1), category (str, "" when absent),
            keeping the input's row labels as index (on the page: the row numbers the editor shows).
        incomplete: row label -> the empty columns of that row ("sentence1", "sentence2", "label"), in input
            order; these rows are not in ``pairs``.
    """

    pairs: pd.DataFrame
    incomplete: dict[Hashable, tuple[str, ...]]


def check_labelled(frame: pd.DataFrame, name: str = "the table") -> LabelledCheck:
    """Split labelled pairs into complete rows and incomplete ones (a blank sentence or no label).

    Messages name rows by ``frame``'s index labels. Does not check that both labels occur
    (``require_both_labels``).

    Raises:
        EmbedLabError: missing columns, or a label that is present but not 0/1 (naming its rows).
    """
    missing = [column for column in LABELLED_COLUMNS if column not in frame.columns]
    if missing:
        raise EmbedLabError(f"{name} has no {', '.join(missing)} column: it needs {', '.join(LABELLED_COLUMNS)}.")
    texts = {column: [cell_text(value) for value in frame[column]] for column in LABELLED_COLUMNS}
    bad = [
        (row, shown.strip())
        for row, shown in zip(frame.index, texts["label"], strict=True)
        if shown.strip() and _label_value(shown) is None
    ]
    if bad:
        (row, shown), others = bad[0], [other for other, _ in bad[1:]]
        also = ""
        if others:
            whose = "labels" if len(others) > 1 else "label"
            verb = "are" if len(others) > 1 else "is"
            also = f"; the {whose} of {row_list(others)} {verb} not 0 or 1 either"
        label = f"label {shown!r}" if len(shown) <= MAX_QUOTED_LABEL else "the label"  # a longer cell is not quoted
        raise EmbedLabError(f"{name} row {row}: {label} is not 0 or 1 (1 = should be similar, 0 = should not){also}.")
    incomplete: dict[Hashable, tuple[str, ...]] = {}
    complete = []
    for position, row in enumerate(frame.index):
        empty = tuple(column for column in LABELLED_COLUMNS if not texts[column][position].strip())
        if empty:
            incomplete[row] = empty
        complete.append(not empty)
    pairs = pd.DataFrame(
        {
            "sentence1": texts["sentence1"],
            "sentence2": texts["sentence2"],
            "label": [_label_value(text) if text.strip() else -1 for text in texts["label"]],
            "category": [cell_text(value) for value in frame["category"]] if "category" in frame.columns else "",
        },
        index=frame.index,
    )
    pairs = pairs.iloc[np.flatnonzero(complete)].astype({"label": int})
    return LabelledCheck(pairs, incomplete)


def require_both_labels(pairs: pd.DataFrame, name: str = "the table", skipped: int = 0) -> None:
    """Raise EmbedLabError unless ``pairs`` holds at least one pair of each label (ROC AUC needs both).

    ``skipped``: incomplete rows left out, to say "complete pairs" in the message.
    """
    complete = "complete " if skipped else ""
    if len(pairs) == 0:
        raise EmbedLabError(f"{name} has no {complete}pairs: add rows with sentence1, sentence2 and a label (1 or 0).")
    counts = pairs["label"].value_counts()
    for label, words in ((1, "should be similar (label 1)"), (0, "should not be similar (label 0)")):
        if counts.get(label, 0) == 0:
            raise EmbedLabError(
                f"{name} has no {complete}pair that {words}: ROC AUC needs at least one pair of each label."
            )


def clean_labelled(frame: pd.DataFrame, name: str = "the table") -> pd.DataFrame:
    """Validate labelled pairs strictly (files and the command line: every row must be complete).

    Rows are data rows numbered from 1 (row 1 = the first row under a file's header), in messages and in the
    returned index.

    Returns:
        DataFrame with sentence1, sentence2 (str), label (int 0/1) and category (str, "" when absent), index 1..n.

    Raises:
        EmbedLabError: missing columns, no rows, an empty sentence or label, a label other than 0/1, or no pair
            of one label (AUC needs at least one of each).
    """
    numbered = labelled_1_to_n(frame)
    check = check_labelled(numbered, name)
    if check.incomplete:
        row, empty = next(iter(check.incomplete.items()))
        if "sentence1" in empty or "sentence2" in empty:
            which = "sentence1" if "sentence1" in empty else "sentence2"
            problem = f"{which} is empty. Fill it in or delete the row"
        else:
            problem = "the label is missing (1 = should be similar, 0 = should not)"
        others = list(check.incomplete)[1:]
        also = ""
        if others:
            also = f"; {row_list(others)} {'are' if len(others) > 1 else 'is'} incomplete too"
        raise EmbedLabError(f"{name} row {row}: {problem}{also}.")
    require_both_labels(check.pairs, name)
    return check.pairs


def read_labelled_pairs(path: str | Path) -> pd.DataFrame:
    """Read and validate a labelled CSV/TSV file (see ``clean_labelled``)."""
    return clean_labelled(read_pairs(path, LABELLED_COLUMNS), Path(path).name)


def parse_labelled_text(data: bytes, name: str = "file") -> pd.DataFrame:
    """Parse and validate uploaded bytes (see ``clean_labelled``)."""
    return clean_labelled(parse_pairs_text(decode_text(data, name), LABELLED_COLUMNS, name), name)


def bundled_suite() -> pd.DataFrame:
    """The project's own labelled pairs (paraphrases, negations, role reversals, antonyms, ...).

    Read and validated once per process (again when the file changes), not by every session that opens a page;
    each call gets its own copy to change.
    """
    return _read_once(str(NEGTEST_FILE), NEGTEST_FILE.stat().st_mtime_ns).copy()


@functools.lru_cache(maxsize=2)
def _read_once(path: str, mtime_ns: int) -> pd.DataFrame:
    return read_labelled_pairs(path)


# ---------------------------------------------------------------- statistics


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve from average ranks: P(score of a positive > score of a negative), ties half.

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise EmbedLabError("ROC AUC needs at least one pair of each label (1 and 0).")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_threshold(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """The observed score that maximises Youden's J = TPR - FPR when "match" means score >= threshold.

    Ties in J go to the highest threshold (fewest false matches). Returns a float from ``scores``.
    """
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise EmbedLabError("Choosing a threshold needs at least one pair of each label (1 and 0).")
    candidates = np.unique(s)[::-1]  # descending
    order = np.argsort(-s, kind="stable")
    sorted_scores, sorted_labels = s[order], y[order]
    # pairs with score >= t: count of the sorted prefix up to the last occurrence of t
    counts = np.searchsorted(-sorted_scores, -candidates, side="right")
    true_pos = np.concatenate([[0], np.cumsum(sorted_labels == 1)])[counts]
    false_pos = np.concatenate([[0], np.cumsum(sorted_labels == 0)])[counts]
    youden = true_pos / n_pos - false_pos / n_neg
    return float(candidates[int(np.argmax(youden))])


def failure_table(pairs: pd.DataFrame, scores: npt.ArrayLike, threshold: float, baseline: Baseline) -> pd.DataFrame:
    """Negatives at or above ``threshold`` and positives below it, worst (largest margin) first.

    Returns:
        DataFrame with FAILURE_COLUMNS: row (the pair's label in ``pairs``' index: its data row from 1 for a file
        read with ``clean_labelled``, the editor's row number on the page), kind ("should not match, scores high" /
        "should match, scores low"), margin = how far the cosine is on the wrong side of the threshold (>= 0).
    """
    s = np.asarray(scores, dtype=np.float64)
    labels = pairs["label"].to_numpy()
    false_match = (labels == 0) & (s >= threshold)
    missed = (labels == 1) & (s < threshold)
    failed = np.flatnonzero(false_match | missed)
    table = pd.DataFrame(
        {
            "row": pairs.index.to_numpy()[failed],
            "sentence1": pairs["sentence1"].to_numpy()[failed],
            "sentence2": pairs["sentence2"].to_numpy()[failed],
            "label": labels[failed],
            "category": pairs["category"].to_numpy()[failed] if "category" in pairs else "",
            "cosine": s[failed],
            "percentile": score_percentiles(s[failed], baseline),
            "kind": np.where(labels[failed] == 0, "should not match, scores high", "should match, scores low"),
            "margin": np.abs(s[failed] - threshold),
            "note": pairs["note"].to_numpy()[failed] if "note" in pairs else "",
        },
        columns=FAILURE_COLUMNS,
    )
    return table.sort_values(["margin", "row"], ascending=[False, True], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- one configuration


@dataclass(frozen=True, eq=False)
class NegTestResult:
    """The negative test of one configuration.

    Attributes:
        spec: the configuration.
        pairs: the validated pairs (sentence1, sentence2, label, category); their index names the rows.
        scores: (n_pairs,) float64 cosines, scores[i] is the cosine of pairs.iloc[i].
        auc: ROC AUC; NaN when the scores cannot be ranked (``auc_reason`` says why: constant or float32 noise).
        threshold: the threshold used; threshold_how: BEST or USER.
        baseline: random-pair baseline of the configuration.
        failures: ``failure_table`` at the threshold.
    """

    spec: EmbedSpec
    pairs: pd.DataFrame
    scores: npt.NDArray[np.float64]
    auc: float
    threshold: float
    threshold_how: str
    baseline: Baseline
    failures: pd.DataFrame
    auc_reason: str | None = None
    unreadable: tuple = ()  # labels of the pairs whose texts the model cannot read (mostly [UNK])
    left_out: tuple = ()  # those of them left out of the AUC, threshold and failures (skip_unreadable)
    kind: str = BI_ENCODER  # or the kind of a scorer without vectors ("cross-encoder"): ``scores`` are its own
    score_name: str = "cosine"  # what ``scores`` are: "cosine", or "score" (a cross-encoder's: not a cosine)
    name: str = ""  # the configuration in words when it is not the spec's label ("FOLDER · cross-encoder score")

    @property
    def label(self) -> str:
        """The configuration in words: the spec's label, or the scorer's ("FOLDER · cross-encoder score")."""
        return self.name or self.spec.label

    @property
    def of_vectors(self) -> bool:
        """Whether ``scores`` are cosines of sentence vectors (a bi-encoder's), not a model's own pair scores."""
        return self.score_name == "cosine"

    @property
    def n_positive(self) -> int:
        return int((self.pairs["label"] == 1).sum())

    @property
    def n_negative(self) -> int:
        return int((self.pairs["label"] == 0).sum())

    @property
    def false_matches(self) -> int:
        """Negatives scoring at or above the threshold."""
        return int((self.failures["label"] == 0).sum())

    @property
    def missed(self) -> int:
        """Positives scoring below the threshold."""
        return int((self.failures["label"] == 1).sum())

    @property
    def accuracy(self) -> float:
        return 1.0 - len(self.failures) / len(self.pairs)

    @property
    def failed(self) -> npt.NDArray[np.bool_]:
        """(n_pairs,) True where the pair failed."""
        return self.pairs.index.isin(self.failures["row"])

    def verdict(self) -> str:
        return verdict(self)

    def category_table(self) -> pd.DataFrame:
        """Failures per category: category, pairs, failed, mean cosine (only categories present)."""
        frame = self.pairs.assign(cosine=self.scores, failed=self.failed)
        frame["category"] = frame["category"].replace("", "(none)")
        table = frame.groupby("category", sort=False).agg(
            pairs=("label", "size"), failed=("failed", "sum"), mean_cosine=("cosine", "mean")
        )
        return table.reset_index()


def run_negtest(
    encoder: Encoder,
    spec: EmbedSpec,
    pairs: pd.DataFrame,
    threshold: float | None = None,
    baseline: Baseline | None = None,
    progress: Progress | None = None,
    skip_unreadable: bool = False,
) -> NegTestResult:
    """Score validated pairs (``clean_labelled``) with one configuration and judge them.

    Pairs whose texts the model cannot read (``embedlab.embedding.readability``) carry a note in the failures;
    with ``skip_unreadable`` they are left out of the AUC, the threshold and the failures (``result.left_out``).

    Args:
        threshold: a pair matches when its cosine >= threshold; None: the best one (Youden's J).
        baseline: the configuration's random-pair baseline if already computed (else computed here).
    """
    texts = list(zip(pairs["sentence1"], pairs["sentence2"], strict=True))
    scores = pair_cosines(encoder, texts, spec, progress)
    notes = [note for _, _, note in pair_readability(encoder, texts)]
    pairs = pairs.assign(note=notes)
    unreadable = tuple(label for label, note in zip(pairs.index, notes, strict=True) if note)
    kept = np.array([not (skip_unreadable and note) for note in notes], dtype=bool)
    if baseline is None:
        baseline = random_pair_baseline(encoder, spec)
    if not kept.all():
        require_both_labels(pairs[kept], "The table without unreadable pairs", skipped=int((~kept).sum()))
    result = judge(spec, pairs[kept], scores[kept], threshold, baseline)
    return replace(result, unreadable=unreadable, left_out=unreadable if skip_unreadable else ())


def run_scorer_negtest(
    scorer, pairs: pd.DataFrame, threshold: float | None = None, baseline: Baseline | None = None
) -> NegTestResult:
    """Score validated pairs with a scorer (``embedlab.scorers``) that scores a pair in one pass (a cross-encoder:
    one forward pass per pair not yet cached) and judge its scores like a configuration's cosines, against its own
    random-pair baseline.

    Args:
        threshold: a pair matches when its score >= threshold; None: the best one (Youden's J).
        baseline: the scorer's random-pair baseline if already computed (else: over the reference sentences).
    """
    texts = list(zip(pairs["sentence1"], pairs["sentence2"], strict=True))
    scores = scorer.score(texts)
    if baseline is None:
        baseline = scorer.random_pair_baseline()
    result = judge(scorer.spec, pairs.assign(note=""), scores, threshold, baseline)
    return replace(result, kind=scorer.kind, score_name=scorer.score_name, name=scorer.label)


def judge(
    spec: EmbedSpec, pairs: pd.DataFrame, scores: npt.ArrayLike, threshold: float | None, baseline: Baseline
) -> NegTestResult:
    """The statistics of already computed scores (see ``run_negtest``)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = pairs["label"].to_numpy()
    how = USER if threshold is not None else BEST
    used = float(threshold) if threshold is not None else best_threshold(labels, scores)
    if not np.isfinite(used):
        raise EmbedLabError(f"The threshold must be a number, not {threshold!r}.")
    reason = noise_reason(scores)
    return NegTestResult(
        spec=spec,
        pairs=pairs,
        scores=scores,
        auc=float("nan") if reason else roc_auc(labels, scores),
        auc_reason=reason,
        threshold=used,
        threshold_how=how,
        baseline=baseline,
        failures=failure_table(pairs, scores, used, baseline),
    )


# ---------------------------------------------------------------- words and tables


def _separation(auc: float) -> str:
    if auc >= 0.95:
        return "separates the two groups very well"
    if auc >= 0.85:
        return "separates the two groups well"
    if auc >= 0.7:
        return "separates the two groups only partly"
    if auc > 0.55:
        return "barely separates the two groups"
    if auc >= 0.45:
        return "does no better than a coin toss"
    return "ranks them backwards: should-not-match pairs score higher than should-match ones"


def verdict(result: NegTestResult) -> str:
    """One plain sentence about a configuration, e.g. for reading aloud in class."""
    how = "the best threshold" if result.threshold_how == BEST else "your threshold"
    if result.auc_reason:
        return (
            f"{result.label} cannot tell the pairs apart: ROC AUC {result.auc_reason}. Every pass or fail "
            "below is decided by rounding, not by meaning."
        )
    text = (
        f"{result.label} {_separation(result.auc)} (ROC AUC {result.auc:.2f}). "
        f"At {how}, {result.threshold:.2f}, {result.false_matches} of {result.n_negative} pairs that should not "
        f"match score too high and {result.missed} of {result.n_positive} that should match score too low"
    )
    if result.threshold <= result.baseline.p95:
        text += (
            f"; careful: {result.threshold:.2f} is not above what 5% of random, unrelated pairs reach "
            f"({result.baseline.p95:.2f}), so unrelated sentences would pass too"
        )
    return text + "."


def summary_table(results: Sequence[NegTestResult]) -> pd.DataFrame:
    """One row per configuration: kind (bi-encoder or cross-encoder), AUC, threshold (and how), failures, accuracy,
    random-pair baseline (of cosines, or of a cross-encoder's scores)."""
    return pd.DataFrame(
        {
            "configuration": [result.label for result in results],
            "kind": [result.kind for result in results],
            "auc": [result.auc for result in results],
            "threshold": [result.threshold for result in results],
            "threshold_how": [THRESHOLD_HOW[result.threshold_how] for result in results],
            "failures": [len(result.failures) for result in results],
            "false_matches": [result.false_matches for result in results],
            "missed": [result.missed for result in results],
            "accuracy": [result.accuracy for result in results],
            "baseline_mean": [result.baseline.mean for result in results],
            "baseline_p95": [result.baseline.p95 for result in results],
        }
    )


# ---------------------------------------------------------------- bi-encoders against a cross-encoder


def _failed_rows(result: NegTestResult) -> set:
    return set(result.failures["row"])


def failed_by_every_bi_encoder(results: Sequence[NegTestResult]) -> set:
    """Row labels failed by every bi-encoder result that judged them (and at least one did)."""
    bi = [result for result in results if result.of_vectors]
    judged = set().union(*(set(result.pairs.index) for result in bi)) if bi else set()
    return {row for row in judged if all(row in _failed_rows(result) for result in bi if row in result.pairs.index)}


def category_failures(results: Sequence[NegTestResult]) -> pd.DataFrame:
    """Per category (kind of pair: negation, role reversal, ...): how many pairs each configuration fails.

    Returns:
        DataFrame: category ("(none)" when the pairs have none), pairs, one column per configuration (its label:
        the failures in that category at its own threshold), and "every bi-encoder" (pairs that every bi-encoder
        fails). Categories in the order of the first result's pairs.
    """
    if not results:
        return pd.DataFrame(columns=["category", "pairs"])
    everyone = failed_by_every_bi_encoder(results)
    frames = [result.pairs for result in results]
    pairs = pd.concat(frames)
    pairs = pairs[~pairs.index.duplicated()]
    categories = pairs["category"].replace("", "(none)")
    table = pd.DataFrame({"category": list(dict.fromkeys(categories))})
    table["pairs"] = [int((categories == name).sum()) for name in table["category"]]
    for result in results:
        failed = _failed_rows(result)
        table[result.label] = [
            int(sum(row in failed for row in categories.index[categories == name])) for name in table["category"]
        ]
    if any(result.of_vectors for result in results):
        table["every bi-encoder"] = [
            int(sum(row in everyone for row in categories.index[categories == name])) for name in table["category"]
        ]
    return table


CAUGHT = "every bi-encoder fails it; the cross-encoder gets it right"
MISSED = "the cross-encoder fails it; a bi-encoder gets it right"


def caught_by_cross(results: Sequence[NegTestResult], cross: NegTestResult) -> pd.DataFrame:
    """The pairs where reading both sentences at once changes the outcome.

    Returns:
        DataFrame: row, sentence1, sentence2, label, category, score (the cross-encoder's), best cosine (the
        bi-encoders' cosine nearest to the right side: the highest for a should-match pair, the lowest for a
        should-not one), outcome (``CAUGHT`` or ``MISSED``); caught pairs first, in row order.
    """
    bi = [result for result in results if result.of_vectors]
    everyone = failed_by_every_bi_encoder(bi)
    cross_failed = _failed_rows(cross)
    passed_by_some = {row for result in bi for row in set(result.pairs.index) - _failed_rows(result)}
    rows = []
    for position, row in enumerate(cross.pairs.index):
        if row in everyone and row not in cross_failed:
            outcome = CAUGHT
        elif row in cross_failed and row in passed_by_some:
            outcome = MISSED
        else:
            continue
        line = cross.pairs.loc[row]
        cosines = [float(result.scores[result.pairs.index.get_loc(row)]) for result in bi if row in result.pairs.index]
        best = max(cosines) if line["label"] == 1 else min(cosines)
        rows.append(
            {
                "row": row,
                "sentence1": line["sentence1"],
                "sentence2": line["sentence2"],
                "label": int(line["label"]),
                "category": line["category"],
                "score": float(cross.scores[position]),
                "best cosine": best,
                "outcome": outcome,
            }
        )
    columns = ["row", "sentence1", "sentence2", "label", "category", "score", "best cosine", "outcome"]
    rows.sort(key=lambda line: line["outcome"] != CAUGHT)  # stable: row order within each outcome
    return pd.DataFrame(rows, columns=columns)


def cross_verdict(results: Sequence[NegTestResult], cross: NegTestResult) -> str:
    """One sentence: of the pairs every bi-encoder fails, how many the cross-encoder gets right (per category),
    and how many it fails that some bi-encoder gets right."""
    table = caught_by_cross(results, cross)
    everyone = failed_by_every_bi_encoder(results)
    caught = table[table["outcome"] == CAUGHT]
    missed = int((table["outcome"] == MISSED).sum())
    if not everyone:
        text = "No pair is failed by every bi-encoder"
    else:
        text = f"Of the {len(everyone)} pairs that every bi-encoder fails, the cross-encoder gets {len(caught)} right"
        categories = cross.pairs.loc[cross.pairs.index.isin(everyone), "category"].replace("", "(none)")
        counts = caught["category"].replace("", "(none)").value_counts()
        parts = [
            f"{name.replace('_', ' ')} {int(counts.get(name, 0))} of {total}"
            for name, total in categories.value_counts().items()
        ]
        text += f" ({', '.join(parts)})"
    return text + f"; it fails {missed} pair{'s' if missed != 1 else ''} that some bi-encoder gets right."
