"""Negative tests: labelled pairs (1 = should match, 0 = should not) against every chosen configuration."""

from __future__ import annotations

import streamlit as st

from components.negative_tests import generate_view as generate
from components.negative_tests import negtest_view as view
from components.shared import notes, state
from components.shared.canary import canary_banner, scorer_canary_banner
from components.shared.config_panels import Configured, config_panels, texts_sent_caption
from components.shared.uploads import show_flash
from embedlab.errors import EmbedLabError


def page() -> None:
    st.title("Negative tests")
    st.caption(
        "Pairs that should NOT be similar (negations, role reversals, antonyms, same topic but different meaning) "
        "must score below pairs that should. For each configuration: ROC AUC, a threshold, the pairs on the wrong "
        "side of it, and the random-pair baseline that shows what 'unrelated' scores."
    )
    panels = config_panels(state.NEGTEST)
    if panels is None:
        return
    raw, trained = panels
    summary_box = st.container()  # the answer first; the table that feeds it below
    full = [Configured(trained.spec.full, trained.encoder)] if trained.spec.compressed else []  # float32 beside
    configurations = view.distinct([raw, trained, *full, *view.extra_configurations()])
    cross = view.cross_choice()  # a cross-encoder beside them, or None

    st.subheader("Labelled pairs")
    show_flash(state.NEGTEST)
    generate.generate_panel()
    view.table_tools()
    table = view.pairs_editor()
    pairs = view.validated(table, view.added_rows(table))
    if pairs is None:
        return
    generate.download(pairs)

    with st.container():  # always there, so the tabs below keep their place when the warning comes and goes
        skip = view.skip_unreadable_choice(view.unreadable_rows(configurations, pairs), len(pairs))
    names = [f"{i + 1}. {configured.spec.label}" for i, configured in enumerate(configurations)]
    tabs = st.tabs(
        names + ([view.cross_tab_label(cross, len(names))] if cross is not None else []),
        key=state.widget_key(state.NEGTEST, "tabs"),  # keeps the open tab when the page above it changes
    )
    results = []
    for index, (tab, configured) in enumerate(zip(tabs[: len(names)], configurations, strict=True)):
        with tab:
            threshold = view.threshold_input(configured.spec.label)
            try:
                result = view.test_configuration(configured, pairs, threshold, skip)
            except EmbedLabError as error:
                notes.error("{}", error, icon="⚠️")
                continue
            results.append(result)
            canary_banner(configured.spec)
            view.show_result(result, view.color_of(index))
            generate.kind_table(result)
    if cross is not None:
        with tabs[-1]:
            result = view.cross_tab(cross, pairs)
            if result is not None:
                scorer_canary_banner(cross, result.baseline)
                generate.kind_table(result)
        if result is not None:
            results.append(result)
    if results:
        with summary_box:
            st.subheader("Summary")
            view.summary(results)
            generate.kinds_summary(results)
            view.cross_comparison(results)
            texts_sent_caption(*configurations)


page()
