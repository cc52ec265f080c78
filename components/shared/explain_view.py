"""The "Why this score" panel (Compare's pair up close, Negative tests' failures): one pair's score taken apart,
per scorer, into token x token contributions (``embedlab.tasks.explain``).

Exact for mean pooling (no model pass: the score's own token states); integrated gradients, which costs passes,
only after a click, with its cost and completeness error stated; for a cross-encoder (a joint input) per-token
attributions with the reason there is no pair heatmap. A scorer without tokens gets its refusal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from components.shared import notes
from components.shared.figures import contribution_heatmap, token_strip
from components.shared.presentation import present
from components.shared.services import get_scorer
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_HEATMAP_TOKENS
from embedlab.scorers.base import Scorer
from embedlab.tasks.explain import (
    DEFAULT_STEPS,
    NO_PAIR_MATRIX,
    Explanation,
    cost_note,
    estimated_passes,
    explain_pair,
    explains_exactly,
    require_explainable,
)

CENTERING_NOTE = (
    "Centering removes the shared part: choose **Post-processing → center** in the configuration above "
    "(it subtracts the reference sentences' mean vector, fitted once; see Tokens & layers for how shared it is)."
)


@st.cache_data(show_spinner=False, max_entries=32)
def explained(spec: EmbedSpec, pair: tuple[str, str], steps: int = DEFAULT_STEPS) -> Explanation:
    """The explanation of ``pair`` under ``spec``, shared by every session (the engine is the shared one)."""
    return explain_pair(get_scorer(spec), pair, steps)


def explain_panel(scorers: Sequence[Scorer], pair: tuple[str, str], key: str) -> None:
    """ "Why this score" for ``pair``: one tab per scorer.  key: the page's namespace for this panel's widgets."""
    st.subheader("Why this score")
    st.caption(
        "Each cell is what one token of sentence 1 with one token of sentence 2 adds to the score: with mean "
        "pooling the cells add up to the score exactly."
    )
    labels = [scorer.label for scorer in scorers]
    # Only the open tab is computed and sent (a tab switch reruns); it opens on the first scorer explained at once.
    opening = next((scorer.label for scorer in scorers if _explained_at_once(scorer)), labels[0])
    tabs = st.tabs(labels, default=opening, key=f"{key}.tabs", on_change="rerun")
    for index, (tab, scorer) in enumerate(zip(tabs, scorers, strict=True)):
        if tab.open:
            with tab:
                explain_one(scorer, pair, f"{key}.{index}")


def _explained_at_once(scorer: Scorer) -> bool:
    try:
        require_explainable(scorer)
    except EmbedLabError:
        return False
    return explains_exactly(scorer)


def explain_one(scorer: Scorer, pair: tuple[str, str], key: str) -> None:
    """One scorer's explanation of ``pair``: at once when exact, after a click when it costs passes."""
    try:
        require_explainable(scorer)
    except EmbedLabError as error:
        notes.info("{}", error, icon="ℹ️")
        return
    if not explains_exactly(scorer) and st.session_state.get(f"{key}.asked") != (scorer.spec, pair):
        if scorer.can("joint_tokens"):
            notes.caption(
                "A cross-encoder reads the pair in one pass and has no exact sum: integrated gradients gives each "
                "token of both sentences its share in {} passes of the pair ({} steps).",
                f"{estimated_passes(pair, scorer, DEFAULT_STEPS):,}",
                DEFAULT_STEPS,
            )
        else:
            notes.caption(
                "{} pooling has no exact sum: integrated gradients takes the score apart in about {} sentence "
                "passes ({} steps).",
                scorer.spec.pooling,
                f"{estimated_passes(pair, scorer, DEFAULT_STEPS):,}",
                DEFAULT_STEPS,
            )
        if not st.button("Take this score apart", key=f"{key}.run", icon=":material/calculate:"):
            return
        st.session_state[f"{key}.asked"] = (scorer.spec, pair)
    try:
        with st.spinner("Taking the score apart…"):
            explanation = explained(scorer.spec, pair)
    except EmbedLabError as error:
        notes.warning("{}", error, icon="✂️")
        return
    show_explanation(explanation, scorer.spec, key)


def shown_tokens(totals: np.ndarray, limit: int = MAX_HEATMAP_TOKENS) -> list[int]:
    """Positions to show on one axis: all of them, or the ``limit`` that add the most (by size), in order."""
    if len(totals) <= limit:
        return list(range(len(totals)))
    return sorted(np.argsort(-np.abs(totals))[:limit].tolist())


def show_explanation(explanation: Explanation, spec: EmbedSpec, key: str) -> None:
    """The sentence in words, the numbers, the heatmap, each sentence's tokens, the top pairs and the split.
    key: a namespace for the charts' keys (two panels on one page may show the same pair)."""
    notes.markdown("{}", explanation.in_words())
    summed = "the cells" if explanation.has_pairs else "the attributions"
    numbers = f"score {explanation.score:.4f} · sum of {summed} {explanation.total:.4f}"
    if not explanation.has_pairs:
        numbers += f" · reference score (content tokens as [PAD]) {explanation.reference:.4f}"
    elif explanation.method != "exact":
        numbers += f" · reference terms {explanation.reference:.4f}"
    st.caption(f"{numbers} · {cost_note(explanation)}")
    for position, cut in enumerate(explanation.truncated, start=1):
        if cut:
            notes.info(
                "Sentence {} is longer than the model reads: it was cut, and the explanation covers the tokens read.",
                position,
                icon="✂️",
            )
    if not explanation.has_pairs:
        show_token_attributions(explanation, key)
        return
    first_totals, second_totals = explanation.token_totals
    rows, cols = shown_tokens(first_totals), shown_tokens(second_totals)
    if len(rows) < len(first_totals) or len(cols) < len(second_totals):
        notes.caption(
            "A long pair: the heatmap shows the {} x {} tokens that add the most (of {} x {}); the table below "
            "lists the top pairs.",
            len(rows),
            len(cols),
            len(first_totals),
            len(second_totals),
        )
    st.plotly_chart(present(contribution_heatmap(explanation, rows, cols)), key=f"{key}.heatmap")
    st.caption("Sentence 1, each token coloured by what it adds (red adds, blue takes away)")
    st.plotly_chart(present(token_strip(explanation.tokens[0], first_totals)), key=f"{key}.tokens1")
    st.caption("Sentence 2")
    st.plotly_chart(present(token_strip(explanation.tokens[1], second_totals)), key=f"{key}.tokens2")
    top = st.expander("Top token pairs", key=f"{key}.top_open", on_change="rerun")  # computed only when open
    if top.open:
        top.dataframe(
            explanation.top_pairs(15),
            hide_index=True,
            key=f"{key}.top",
            column_config={
                "contribution": st.column_config.NumberColumn("Adds", format="%.4f"),
                "share": st.column_config.NumberColumn("Share of the sum", format="percent"),
            },
        )
    if explanation.shared is not None:
        st.markdown(
            f"**Shared direction {explanation.shared:.3f} + these sentences {explanation.specific:.3f} = "
            f"{explanation.shared + explanation.specific:.3f}.** The first part comes from the direction every "
            "sentence of this configuration shares (the reference sentences' mean vector); only the second is about "
            "these two sentences."
        )
        if spec.post == "none":
            st.caption(CENTERING_NOTE)


def show_token_attributions(explanation: Explanation, key: str) -> None:
    """A joint input's per-token attributions: why no pair heatmap, each sentence's tokens, the top tokens."""
    notes.caption("{}", NO_PAIR_MATRIX)
    first_totals, second_totals = explanation.token_totals
    st.caption(
        "Sentence 1, each token coloured by what it adds, read together with sentence 2 (red adds, blue takes away)"
    )
    st.plotly_chart(present(token_strip(explanation.tokens[0], first_totals)), key=f"{key}.tokens1")
    st.caption("Sentence 2")
    st.plotly_chart(present(token_strip(explanation.tokens[1], second_totals)), key=f"{key}.tokens2")
    with st.expander("Top tokens", expanded=True):
        st.dataframe(
            explanation.top_tokens(15),
            hide_index=True,
            key=f"{key}.toptokens",
            column_config={
                "sentence": st.column_config.NumberColumn("Sentence"),
                "contribution": st.column_config.NumberColumn("Adds", format="%.4f"),
                "share": st.column_config.NumberColumn("Share of the sum", format="percent"),
            },
        )


def explain_failure(scorer: Scorer, failures: pd.DataFrame, selected: Sequence[int], key: str) -> None:
    """ "Why this score" for the failure selected in the failures table (the worst one until a row is clicked)."""
    position = selected[0] if selected and selected[0] < len(failures) else 0
    line = failures.iloc[position]
    st.markdown(f"**Why this score: row {line['row']}**")
    notes.caption(
        "{} Click another failure in the table to take its score apart.",
        "The row you selected." if selected else "The worst failure.",
    )
    explain_one(scorer, (str(line["sentence1"]), str(line["sentence2"])), key)
