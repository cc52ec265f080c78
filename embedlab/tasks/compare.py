"""The Compare page's table logic, free of Streamlit: which rows can be scored, and the scored table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedlab.data.pairtable import PAIR_COLUMNS, clean_columns, labelled_1_to_n
from embedlab.embedding.encoder import Encoder, TextStates
from embedlab.embedding.precision import NOISE_STD, spread
from embedlab.embedding.readability import unreadable_note
from embedlab.embedding.scoring import Baseline, pair_cosines, score_percentiles
from embedlab.embedding.specs import EmbedSpec
from embedlab.limits import MAX_COMPARE_PAIRS as MAX_PAIRS
from embedlab.models.cross import CrossScorer

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
        states = encoder.states([first, second])
        long = [f"sentence {i + 1}: {s.n_tokens} tokens" for i, s in enumerate(states) if s.truncated]
        parts = [unreadable_note(states)]
        if long:
            parts.append(f"truncated to {limit} tokens ({'; '.join(long)})")
        notes[position] = "; ".join(part for part in parts if part)
    return cosines, notes


def cross_scores(scorer: CrossScorer, frame: pd.DataFrame, rows: Sequence[int]) -> np.ndarray:
    """The cross-encoder's score for the given rows (labels of ``frame.index``), NaN elsewhere: one pass per pair
    not scored before (``CrossScorer`` caches them), nothing for the other rows.

    Returns:
        (len(frame),) float64 scores in table order, each ``CrossEncoder.predict`` of (sentence1, sentence2).
    """
    scores = np.full(len(frame), np.nan)
    if rows:
        pairs = [(frame.at[row, "sentence1"], frame.at[row, "sentence2"]) for row in rows]
        scores[frame.index.get_indexer(list(rows))] = scorer.score(pairs)
    return scores


def cross_notes(scorer: CrossScorer, frame: pd.DataFrame, rows: Sequence[int]) -> list[str]:
    """Per row (table order), the note for a pair the cross-encoder cannot read (mostly [UNK] under its tokenizer,
    as ``readability.unreadable_note`` says it for a bi-encoder), "" elsewhere. Tokenizes only: no model pass."""
    tokenizer = scorer.model.tokenizer
    notes = [""] * len(frame)
    for position, row in zip(frame.index.get_indexer(list(rows)), rows, strict=True):
        states = []
        for text in (frame.at[row, "sentence1"], frame.at[row, "sentence2"]):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            unknown = sum(token == tokenizer.unk_token_id for token in ids)
            states.append(TextStates({}, np.zeros(0, np.float32), len(ids), False, len(ids), unknown))
        notes[position] = unreadable_note(states)
    return notes


def cross_undefined(baseline: Baseline) -> str | None:
    """Why the cross-encoder's percentiles are undefined (every random pair scores the same to ``NOISE_STD``), or
    None when its random-pair scores vary enough to calibrate a score against."""
    if baseline.n_pairs == 0 or not len(baseline.cosines):
        return None
    if spread(baseline.cosines) >= NOISE_STD:
        return None
    return (
        f"undefined: every random pair scores {baseline.mean:.5f} (spread below {NOISE_STD:.0e}), so this "
        "cross-encoder gives every pair about the same score and a percentile ranks nothing (an untrained head?)"
    )


def compare_table(
    frame: pd.DataFrame,
    check: PairCheck,
    raw: tuple[np.ndarray, list[str], Baseline],
    trained: tuple[np.ndarray, list[str], Baseline],
    cross: tuple[np.ndarray, list[str], Baseline] | None = None,
) -> pd.DataFrame:
    """The scored table shown and downloaded: one row per input row, in input order, with the input's index.

    ``*_percentile``: where the cosine falls among the configuration's random-pair cosines (0-100). With
    ``cross`` (scores, notes, random-pair baseline), the cross-encoder's columns too: ``cross_score`` (a score, not a
    cosine), ``cross_percentile`` (NaN when ``cross_undefined``), ``cross_typical``, ``cross_above_typical``.
    """
    raw_cosines, raw_notes, raw_baseline = raw
    trained_cosines, trained_notes, trained_baseline = trained
    notes = []
    for position, row in enumerate(frame.index):
        parts = [check.notes.get(row, "")]
        parts += [
            f"raw {raw_notes[position]}" if raw_notes[position] else "",
            f"trained {trained_notes[position]}" if trained_notes[position] else "",
            f"cross-encoder {cross[1][position]}" if cross is not None and cross[1][position] else "",
        ]
        notes.append("; ".join(part for part in parts if part))
    table = pd.DataFrame(
        {
            "sentence1": frame["sentence1"],
            "sentence2": frame["sentence2"],
            "raw_cosine": raw_cosines,
            "raw_percentile": score_percentiles(raw_cosines, raw_baseline),
            "raw_typical": raw_baseline.mean,
            "raw_above_typical": raw_cosines - raw_baseline.mean,
            "trained_cosine": trained_cosines,
            "trained_percentile": score_percentiles(trained_cosines, trained_baseline),
            "trained_typical": trained_baseline.mean,
            "trained_above_typical": trained_cosines - trained_baseline.mean,
            "note": notes,
        },
        index=frame.index,
    )
    if cross is None:
        return table
    scores, _, baseline = cross
    percentiles = score_percentiles(scores, baseline)
    if cross_undefined(baseline):
        percentiles = np.full(len(scores), np.nan)
    return table.assign(
        cross_score=scores,
        cross_percentile=percentiles,
        cross_typical=baseline.mean,
        cross_above_typical=scores - baseline.mean,
    )
