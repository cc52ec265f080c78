"""Compare: type sentence pairs, see raw BERT pooling and a trained sentence-transformer side by side."""

from __future__ import annotations

import streamlit as st

from components.compare.calibration_view import calibration_section
from components.compare.cross_view import costs_expander, cross_choice
from components.compare.pairs_table import add_pair_form, current_pairs, pairs_editor
from components.compare.scores_view import SESSION_NOTE, results, scores_section, selected_pair, table_tools
from components.shared import first_screen, notes, state
from components.shared.canary import canary_banner
from components.shared.config_panels import config_panels, texts_sent_caption
from components.shared.uploads import show_flash
from embedlab.data.pairtable import row_list
from embedlab.tasks.compare import MAX_PAIRS, check_pairs
from embedlab.tasks.projection import bundled_sentences


def page() -> None:
    st.title("Compare")
    st.caption(
        "Raw BERT vectors are not trained for cosine: almost every pair scores high. Each score is shown next "
        "to the typical cosine of random pairs under the same configuration: only the gap carries meaning."
    )
    first = first_screen.opens()  # a new session: the scores first, the editor and the charts a moment later
    panels = config_panels(state.COMPARE)
    if panels is None:
        return
    raw, trained = panels
    cross_column, _ = st.columns(2, gap="large")
    with cross_column:
        cross = cross_choice(state.COMPARE)

    # The answer first: the scores sit right under the quick add-pair form, the full table editor below them
    # (it runs first, so the scores are of the table as the user left it).
    show_flash(state.COMPARE)
    add_pair_form()
    answer = st.container()
    st.subheader("Sentence pairs")
    if first:
        st.caption("The table editor opens in a moment.")
        table = current_pairs()
    else:
        st.caption("Edit, paste or delete rows here: the scores above follow.")
        table = pairs_editor()
    check = check_pairs(table)
    tools = st.container()
    with answer:
        if check.skipped_over_limit:
            notes.warning(
                "The table has {} rows; the page scores the first {} complete pairs and skips {}. Score "
                "larger files with `python -m embedlab score FILE`.",
                len(table),
                MAX_PAIRS,
                check.skipped_over_limit,
            )
        blank = [row for row, note in check.notes.items() if note.startswith("empty")]
        if blank:
            notes.info("{}: an empty sentence, so not scored.", row_list(blank, capital=True), icon="✏️")
        scored = scores_section(table, check, raw, trained, cross)
        if scored is None:
            if not check.scorable:
                st.info("Type or paste a pair to see its scores.")
        else:
            for configured in (raw, trained):  # a warning only for a configuration whose scores carry no signal
                canary_banner(configured.spec)
            texts_sent_caption(trained)  # after the canary, which may send the service its paraphrase pairs
            if not first:
                results(scored, check.scorable, raw, trained, cross)
                if cross is not None:
                    costs_expander(state.COMPARE, cross, trained, bundled_sentences().sentences)
    if not first:
        with tools:
            st.caption(SESSION_NOTE)
            table_tools(table, scored)
    if scored is not None:
        selected_pair(table, scored, check.scorable, raw, trained, cross, charts=not first)
    if first:
        first_screen.then_the_rest()
        return
    calibration_section(raw, trained, cross)


page()
