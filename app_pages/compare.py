"""Compare: type sentence pairs, see raw BERT pooling and a trained sentence-transformer side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components import state
from components.config import Configured, config_panels
from components.figures import cosine_bars, layer_chart
from components.pairs_table import add_pair_form, pairs_editor, replace_pairs, upload_pairs
from components.presentation import present
from components.services import baseline, encode_unseen, layer_baseline_table
from components.uploads import show_flash
from embedlab.data.pairtable import PAIR_COLUMNS, row_list
from embedlab.embedding.scoring import layer_profile, percentile_text
from embedlab.errors import EmbedLabError
from embedlab.tasks.compare import MAX_PAIRS, check_pairs, compare_table, score_rows

SCORE_COLUMNS = (
    "sentence1",
    "sentence2",
    "raw_cosine",
    "raw_typical",
    "trained_cosine",
    "trained_typical",
    "raw_above_typical",
    "trained_above_typical",
    "raw_percentile",
    "trained_percentile",
    "note",
)
PERCENTILE_HELP = "Share of random pairs (same configuration) scoring lower, in %: the score calibrated"


def score_with_progress(configured: Configured, table: pd.DataFrame, rows: tuple[int, ...]):
    """Score rows; a progress bar appears only when texts need the model."""
    encode_unseen(
        configured.encoder, [text for row in rows for text in table.loc[row, list(PAIR_COLUMNS)]], configured.spec.model
    )
    return score_rows(configured.encoder, configured.spec, table, rows)


def signed(gap: float) -> str:
    """+0.123 / -0.123, never "-0.000" for a gap that rounds to zero."""
    return f"{round(gap, 3) + 0.0:+.3f}"


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
            scored.to_csv(index=False).encode("utf-8"),
            "embedding-lab-pairs.csv",
            mime="text/csv",
            icon=":material/download:",
        )


def results(table: pd.DataFrame, scored: pd.DataFrame, rows: tuple[int, ...], raw: Configured, trained: Configured):
    st.dataframe(
        scored,
        width="stretch",
        # both scores and their baselines first (inside a 1366 px window); any other column after them
        column_order=[*(c for c in SCORE_COLUMNS if c in scored), *(c for c in scored if c not in SCORE_COLUMNS)],
        column_config={
            "sentence1": "Sentence 1",
            "sentence2": "Sentence 2",
            "raw_cosine": st.column_config.NumberColumn("Raw cosine", format="%.3f"),
            "raw_percentile": st.column_config.NumberColumn("Raw percentile", format="%.0f", help=PERCENTILE_HELP),
            "raw_typical": st.column_config.NumberColumn(
                "Raw typical", format="%.3f", help="Mean cosine of random pairs, same configuration"
            ),
            "raw_above_typical": st.column_config.NumberColumn("Raw − typical", format="%+.3f"),
            "trained_cosine": st.column_config.NumberColumn("Trained cosine", format="%.3f"),
            "trained_percentile": st.column_config.NumberColumn(
                "Trained percentile", format="%.0f", help=PERCENTILE_HELP
            ),
            "trained_typical": st.column_config.NumberColumn("Trained typical", format="%.3f"),
            "trained_above_typical": st.column_config.NumberColumn("Trained − typical", format="%+.3f"),
            "note": "Note",
        },
    )
    if rows:
        st.plotly_chart(
            present(cosine_bars(scored.loc[list(rows)], f"raw: {raw.spec.label}", f"trained: {trained.spec.label}"))
        )


def selected_pair(
    table: pd.DataFrame, scored: pd.DataFrame, rows: tuple[int, ...], raw: Configured, trained: Configured
) -> None:
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
    raw_col, trained_col = st.columns(2)
    raw_col.metric(
        f"Raw · {raw.spec.label}",
        f"{line.raw_cosine:.3f}",
        f"{signed(line.raw_above_typical)} vs typical {line.raw_typical:.3f} · {percentile_text(line.raw_percentile)}",
        delta_color="off",
    )
    trained_col.metric(
        f"Trained · {trained.spec.label}",
        f"{line.trained_cosine:.3f}",
        f"{signed(line.trained_above_typical)} vs typical {line.trained_typical:.3f} · "
        f"{percentile_text(line.trained_percentile)}",
        delta_color="off",
    )
    st.markdown(
        f"**{line.raw_cosine:.2f}** raw, typical for this configuration: {line.raw_typical:.2f} · "
        f"**{line.trained_cosine:.2f}** trained, typical: {line.trained_typical:.2f}"
    )
    if line.note:
        st.caption(f"Note: {line.note}")
    profile = layer_profile(raw.encoder, table.at[row, "sentence1"], table.at[row, "sentence2"])
    st.plotly_chart(
        present(
            layer_chart(
                profile,
                layer_baseline_table(raw.spec.model),
                float(line.trained_cosine),
                f"Which layer? {raw.spec.model}: cosine of {row_list([row])} at every layer (dotted: random pairs)",
            )
        )
    )
    st.caption(
        "A layer is useful when the solid line stands well above its dotted line (random pairs), "
        "not when the cosine is merely high."
    )


def page() -> None:
    st.title("Compare")
    st.caption(
        "Raw BERT vectors are not trained for cosine: almost every pair scores high. Each score is shown next "
        "to the typical cosine of random pairs under the same configuration: only the gap carries meaning."
    )
    panels = config_panels(state.COMPARE)
    if panels is None:
        return
    raw, trained = panels

    # The answer first: the scores sit right under the quick add-pair form, the full table editor below them
    # (it runs first, so the scores are of the table as the user left it).
    show_flash(state.COMPARE)
    add_pair_form()
    answer = st.container()
    st.subheader("Sentence pairs")
    st.caption("Edit, paste or delete rows here: the scores above follow.")
    table = pairs_editor()
    check = check_pairs(table)
    tools = st.container()
    with answer:
        if check.skipped_over_limit:
            st.warning(
                f"The table has {len(table)} rows; the page scores the first {MAX_PAIRS} complete pairs and skips "
                f"{check.skipped_over_limit}. Score larger files with `python -m embedlab score FILE`."
            )
        blank = [row for row, note in check.notes.items() if note.startswith("empty")]
        if blank:
            st.info(f"{row_list(blank, capital=True)}: an empty sentence, so not scored.", icon="✏️")
        scored = None
        if check.scorable:
            try:
                with st.spinner("Random-pair baselines (first time for a configuration)…"):
                    raw_baseline, trained_baseline = baseline(raw.spec), baseline(trained.spec)
                scored = compare_table(
                    table,
                    check,
                    (*score_with_progress(raw, table, check.scorable), raw_baseline),
                    (*score_with_progress(trained, table, check.scorable), trained_baseline),
                )
            except EmbedLabError as error:
                st.error(str(error), icon="⚠️")
        if scored is None:
            st.info("Type or paste a pair to see its scores.")
        else:
            results(table, scored, check.scorable, raw, trained)
    with tools:
        table_tools(table, scored)
    if scored is not None:
        selected_pair(table, scored, check.scorable, raw, trained)


page()
