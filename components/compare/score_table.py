"""The Compare page's score table and a pair's two metrics, as drawn: shared by the page (``scores_view``) and the
answer shown while the server starts (``first_look_view``), so both look alike. Light on purpose: no model code."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from embedlab.embedding.scoring import percentile_text
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.compare import shown_table, signed

SCORE_COLUMNS = (
    "sentence1",
    "sentence2",
    "raw_cosine",
    "raw_same_meaning",
    "raw_typical",
    "trained_cosine",
    "trained_float32",
    "trained_same_meaning",
    "trained_typical",
    "raw_above_typical",
    "trained_above_typical",
    "raw_percentile",
    "trained_percentile",
    "cross_score",
    "cross_same_meaning",
    "cross_typical",
    "cross_above_typical",
    "cross_percentile",
    "note",
)


SAME_MEANING_HELP = (
    "How often pairs scoring this are the same meaning for this model and configuration (0.83 -> 40%), calibrated "
    "on labelled pairs: see 'What a score means for this model' below"
)
PERCENTILE_HELP = "Share of random pairs (same configuration) scoring lower, in %: the score calibrated"


def show_scores(slot, scored: pd.DataFrame, pending: bool = False) -> None:
    """The score table in its slot (the same slot is filled in again once the baselines are ready)."""

    def number(label: str, help_text: str | None = None):
        return st.column_config.TextColumn(label, help=help_text, alignment="right")

    slot.dataframe(
        shown_table(scored, pending),
        width="stretch",
        # both scores and their baselines first (inside a 1366 px window); any other column after them
        column_order=[*(c for c in SCORE_COLUMNS if c in scored), *(c for c in scored if c not in SCORE_COLUMNS)],
        column_config={
            "sentence1": "Sentence 1",
            "sentence2": "Sentence 2",
            "raw_cosine": number("Raw cosine"),
            "raw_percentile": number("Raw percentile", PERCENTILE_HELP),
            "raw_typical": number("Raw typical", "Mean cosine of random pairs, same configuration"),
            "raw_above_typical": number("Raw − typical"),
            "trained_cosine": number("Trained cosine"),
            "trained_float32": number(
                "Trained float32", "The same model's full float32 vectors: what storing smaller moved"
            ),
            "trained_percentile": number("Trained percentile", PERCENTILE_HELP),
            "trained_typical": number("Trained typical"),
            "trained_above_typical": number("Trained − typical"),
            "cross_score": number("Cross-encoder score", "The cross-encoder's score of the pair (0..1): not a cosine"),
            "cross_percentile": number("Cross percentile", PERCENTILE_HELP),
            "cross_typical": number("Cross typical", "Mean cross-encoder score of random pairs"),
            "cross_above_typical": number("Cross − typical"),
            "note": "Note",
            "raw_same_meaning": number("Raw: same meaning", SAME_MEANING_HELP),
            "trained_same_meaning": number("Trained: same meaning", SAME_MEANING_HELP),
            "cross_same_meaning": number("Cross: same meaning", SAME_MEANING_HELP),
        },
    )


def pair_metrics(line: pd.Series, raw: EmbedSpec, trained: EmbedSpec, raw_col, trained_col) -> None:
    """One scored row's raw and trained scores, each beside its typical value and percentile, in two columns."""
    raw_col.metric(
        f"Raw · {raw.label}",
        f"{line.raw_cosine:.3f}",
        f"{signed(line.raw_above_typical)} vs typical {line.raw_typical:.3f} · {percentile_text(line.raw_percentile)}",
        delta_color="off",
    )
    trained_col.metric(
        f"Trained · {trained.label}",
        f"{line.trained_cosine:.3f}",
        f"{signed(line.trained_above_typical)} vs typical {line.trained_typical:.3f} · "
        f"{percentile_text(line.trained_percentile)}",
        delta_color="off",
    )
