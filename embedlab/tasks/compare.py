"""The Compare page's table logic, free of Streamlit: which rows can be scored, and the scored table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedlab.data.pairtable import PAIR_COLUMNS, clean_columns, labelled_1_to_n
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.readability import unreadable_note
from embedlab.embedding.scoring import Baseline, pair_cosines, score_percentiles
from embedlab.embedding.specs import EmbedSpec
from embedlab.limits import MAX_COMPARE_PAIRS as MAX_PAIRS
from embedlab.scorers.base import Scorer

EXAMPLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("What is your age?", "How old are you?"),
    ("你几岁了？", "你多大了？"),
    ("This is a wooden stick.", "Stick to your work."),
    ("The museum is open on Sundays.", "The museum is not open on Sundays."),
    ("The cat chased the dog.", "The dog chased the cat."),
    ("How do I reset my password?", "Volcanoes form where tectonic plates meet."),
)


def example_pairs() -> pd.DataFrame:
    return numbered(pd.DataFrame(EXAMPLE_PAIRS, columns=list(PAIR_COLUMNS)))


def numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The pairs as a new table, rows labelled 1..n (the labels the editor shows and every note uses)."""
    return labelled_1_to_n(clean_pairs(frame))


def clean_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """The two sentence columns as plain strings (missing cells become "").

    The index is kept: it is the row label the data editor shows, and every note on the page names rows by it.
    """
    return clean_columns(frame, PAIR_COLUMNS)


@dataclass(frozen=True)
class PairCheck:
    """Which rows of a pairs table get scored.

    Attributes:
        scorable: row labels (the table's index) with two non-blank sentences, at most MAX_PAIRS of them.
        notes: row label -> why it is not scored ("empty sentence 2", ...).
        skipped_over_limit: rows beyond the limit (not scored, said so).
    """

    scorable: tuple[int, ...]
    notes: dict[int, str]
    skipped_over_limit: int


def check_pairs(frame: pd.DataFrame, limit: int = MAX_PAIRS) -> PairCheck:
    notes: dict[int, str] = {}
    scorable: list[int] = []
    over = 0
    for row, first, second in zip(frame.index, frame["sentence1"], frame["sentence2"], strict=True):
        blank = [name for name, text in (("sentence 1", first), ("sentence 2", second)) if not text.strip()]
        if blank:
            notes[row] = "empty " + " and ".join(blank)
        elif len(scorable) >= limit:
            over += 1
            notes[row] = f"not scored: over the {limit}-pair limit"
        else:
            scorable.append(row)
    return PairCheck(tuple(scorable), notes, over)


def score_rows(
    encoder: Encoder, spec: EmbedSpec, frame: pd.DataFrame, rows: Sequence[int], progress=None
) -> tuple[np.ndarray, list[str]]:
    """Cosines for the given rows (labels of ``frame.index``; NaN elsewhere) and per-row notes: a text the model
    cannot read (mostly [UNK]: ``embedlab.embedding.readability``) or one cut at the model's limit.

    Returns:
        (len(frame),) float64 cosines in table order; list of notes, "" where the texts fit the model.
    """
    pairs = [(frame.at[row, "sentence1"], frame.at[row, "sentence2"]) for row in rows]
    positions = frame.index.get_indexer(list(rows))
    cosines = np.full(len(frame), np.nan)
    cosines[positions] = pair_cosines(encoder, pairs, spec, progress)
    limit = encoder.model.facts.max_seq_length
    notes = [""] * len(frame)
    for position, (first, second) in zip(positions, pairs, strict=True):
        counts = encoder.token_counts([first, second])  # the tokenizer alone: no model pass for the notes
        long = [f"sentence {i + 1}: {c.n_tokens} tokens" for i, c in enumerate(counts) if c.truncated]
        parts = [unreadable_note(counts)]
        if long:
            parts.append(f"truncated to {limit} tokens ({'; '.join(long)})")
        notes[position] = "; ".join(part for part in parts if part)
    return cosines, notes


def pair_scores(scorer: Scorer, frame: pd.DataFrame, rows: Sequence[int]) -> np.ndarray:
    """A scorer's scores for the given rows (labels of ``frame.index``), NaN elsewhere; nothing is scored for the
    other rows (a cross-encoder: one pass per pair not scored before, its engine caches them).

    Returns:
        (len(frame),) float64 scores in table order.
    """
    scores = np.full(len(frame), np.nan)
    if rows:
        pairs = [(frame.at[row, "sentence1"], frame.at[row, "sentence2"]) for row in rows]
        scores[frame.index.get_indexer(list(rows))] = scorer.score(pairs)
    return scores


def pair_notes(scorer: Scorer, frame: pd.DataFrame, rows: Sequence[int]) -> list[str]:
    """Per row (table order), what ``scorer.notes`` says of the pair (a text it cannot read), "" elsewhere."""
    notes = [""] * len(frame)
    pairs = [(frame.at[row, "sentence1"], frame.at[row, "sentence2"]) for row in rows]
    for position, note in zip(frame.index.get_indexer(list(rows)), scorer.notes(pairs), strict=True):
        notes[position] = note
    return notes


@dataclass(frozen=True)
class Scored:
    """One scorer's results on the table.

    Attributes:
        scores: (len(frame),) float64 in table order, NaN for rows not scored.
        notes: per row, what the scorer says of its texts ("" for nothing).
        baseline: its random-pair baseline (scores of mismatched reference sentences).
        score_name: what the scores are: "cosine", or "score" (a cross-encoder's own).
        undefined: why its percentiles rank nothing (then NaN), or None.
        name: how a note names it ("cross-encoder"); "" for the column prefix.
    """

    scores: np.ndarray
    notes: list[str]
    baseline: Baseline
    score_name: str = "cosine"
    undefined: str | None = None
    name: str = ""


def score_columns(prefix: str, scored: Scored) -> dict[str, object]:
    """The four columns of one scorer: ``<prefix>_<score_name>``, ``<prefix>_percentile`` (among its random-pair
    scores, 0-100; NaN when ``scored.undefined``), ``<prefix>_typical`` (their mean) and
    ``<prefix>_above_typical``."""
    scores, baseline = scored.scores, scored.baseline
    percentiles = score_percentiles(scores, baseline)
    if scored.undefined:
        percentiles = np.full(len(scores), np.nan)
    return {
        f"{prefix}_{scored.score_name}": scores,
        f"{prefix}_percentile": percentiles,
        f"{prefix}_typical": baseline.mean,
        f"{prefix}_above_typical": scores - baseline.mean,
    }


def same_meaning_column(
    scored: pd.DataFrame, prefix: str, score_name: str, probabilities: Sequence[float]
) -> pd.DataFrame:
    """``scored`` with ``<prefix>_same_meaning`` (a calibrated probability that the pair is the same meaning, 0-1,
    NaN where not scored: ``embedlab.tasks.calibration``) placed right after ``<prefix>_<score_name>``."""
    column = f"{prefix}_same_meaning"
    result = scored.drop(columns=[column], errors="ignore")
    result.insert(result.columns.get_loc(f"{prefix}_{score_name}") + 1, column, np.asarray(probabilities, float))
    return result


def compare_table(
    frame: pd.DataFrame, check: PairCheck, raw: Scored, trained: Scored, cross: Scored | None = None
) -> pd.DataFrame:
    """The scored table shown and downloaded: one row per input row, in input order, with the input's index.

    The ``score_columns`` of raw, trained, then the note, then those of the optional third scorer (prefix
    ``cross``: a cross-encoder's ``cross_score``, not a cosine).
    """
    sides = {"raw": raw, "trained": trained, **({"cross": cross} if cross is not None else {})}
    notes = []
    for position, row in enumerate(frame.index):
        parts = [check.notes.get(row, "")]
        parts += [
            f"{scored.name or prefix} {scored.notes[position]}" if scored.notes[position] else ""
            for prefix, scored in sides.items()
        ]
        notes.append("; ".join(part for part in parts if part))
    columns = {"sentence1": frame["sentence1"], "sentence2": frame["sentence2"]}
    for prefix in ("raw", "trained"):
        columns.update(score_columns(prefix, sides[prefix]))
    columns["note"] = notes
    if cross is not None:
        columns.update(score_columns("cross", cross))
    return pd.DataFrame(columns, index=frame.index)


NOT_SCORED = "–"  # what an unscored cell shows (an empty sentence), never "None"


PENDING = Baseline(mean=float("nan"), p95=float("nan"), n_pairs=0)  # scores shown before the baselines are ready


BASELINE_COLUMNS = (
    "raw_percentile",
    "raw_typical",
    "raw_above_typical",
    "trained_percentile",
    "trained_typical",
    "trained_above_typical",
    "cross_percentile",
    "cross_typical",
    "cross_above_typical",
)


SCORE_FORMATS = {
    "raw_cosine": "{:.3f}",
    "raw_percentile": "{:.0f}",
    "raw_typical": "{:.3f}",
    "raw_above_typical": "{:+.3f}",
    "trained_cosine": "{:.3f}",
    "trained_float32": "{:.3f}",  # the full float32 cosine, beside a trained model's stored-smaller one
    "trained_percentile": "{:.0f}",
    "trained_typical": "{:.3f}",
    "trained_above_typical": "{:+.3f}",
    "cross_score": "{:.3f}",
    "cross_percentile": "{:.0f}",
    "cross_typical": "{:.3f}",
    "cross_above_typical": "{:+.3f}",
    "raw_same_meaning": "{:.0%}",
    "trained_same_meaning": "{:.0%}",
    "cross_same_meaning": "{:.0%}",
}


def signed(gap: float) -> str:
    """+0.123 / -0.123, never "-0.000" for a gap that rounds to zero."""
    return f"{round(gap, 3) + 0.0:+.3f}"


def shown_table(scored: pd.DataFrame, pending: bool) -> pd.DataFrame:
    """The scored table as shown: numbers as text ("0.912", "+0.105", "–" in an unscored cell); without the
    baseline columns while the baselines are computed.

    Text, because the browser's grid draws an empty number cell as "None" whatever a Styler says (checked in
    Chromium with Streamlit 1.67); percentiles are left-padded with spaces so that they still sort.
    """
    base = scored.drop(columns=[c for c in BASELINE_COLUMNS if c in scored]) if pending else scored
    columns = {}
    for column in base.columns:
        fmt = SCORE_FORMATS.get(column)
        if fmt is None:
            columns[column] = base[column].copy()
        else:
            width = 3 if column.endswith("percentile") else 0
            columns[column] = [NOT_SCORED if pd.isna(v) else fmt.format(v).rjust(width) for v in base[column]]
    return pd.DataFrame(columns, index=base.index)  # built at once: replacing columns one by one is slower
