"""Projection's "retrieve and re-rank": a query's top k by the bi-encoder (the trained model's cached vectors of the
set), then only those k pairs scored by the cross-encoder, with both scores, the rank change and each step's time.

The engine is ``embedlab.tasks.costs.retrieve_and_rerank``; what the query and k were is kept in the session
(``state.PROJECTION_RERANK_QUERY`` / ``PROJECTION_RERANK_K``), and a view carries the query (``rerank``).
"""

from __future__ import annotations

import streamlit as st

from components.compare.cross_view import BASELINE_SPINNER, TRAIN_HINT, costs_expander, cross_baseline, cross_choice
from components.projection.projection_view import embeddings
from components.shared import notes, state
from components.shared.config_panels import Configured
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_QUERY_CHARS, MAX_RERANK_K
from embedlab.literal import Markdown
from embedlab.models.registry import available_cross_encoders
from embedlab.tasks.costs import RERANK_K, Reranked, retrieve_and_rerank
from embedlab.tasks.projection import SentenceSet

EXAMPLE_QUERY = "How can I get better sleep at night?"


def _query_form() -> tuple[str, int]:
    """The query and k, kept in the session; submitted together (typing does not rerun the page)."""
    st.session_state.setdefault(state.PROJECTION_RERANK_QUERY, "")
    st.session_state.setdefault(state.PROJECTION_RERANK_K, RERANK_K)
    if state.PROJECTION_RERANK_QUERY_WIDGET not in st.session_state:
        st.session_state[state.PROJECTION_RERANK_QUERY_WIDGET] = st.session_state[state.PROJECTION_RERANK_QUERY]
    if state.PROJECTION_RERANK_K_WIDGET not in st.session_state:
        st.session_state[state.PROJECTION_RERANK_K_WIDGET] = st.session_state[state.PROJECTION_RERANK_K]
    with st.form(state.PROJECTION_RERANK_FORM, border=False):
        query_column, k_column = st.columns([4, 1], vertical_alignment="bottom")
        query_column.text_input(
            "Query", key=state.PROJECTION_RERANK_QUERY_WIDGET, max_chars=MAX_QUERY_CHARS, placeholder=EXAMPLE_QUERY
        )
        k_column.number_input(
            "Top k", min_value=1, max_value=MAX_RERANK_K, step=1, key=state.PROJECTION_RERANK_K_WIDGET
        )
        if st.form_submit_button("Retrieve and re-rank", icon=":material/search:"):
            st.session_state[state.PROJECTION_RERANK_QUERY] = st.session_state[state.PROJECTION_RERANK_QUERY_WIDGET]
            st.session_state[state.PROJECTION_RERANK_K] = int(st.session_state[state.PROJECTION_RERANK_K_WIDGET])
    return st.session_state[state.PROJECTION_RERANK_QUERY], int(st.session_state[state.PROJECTION_RERANK_K])


def _show(result: Reranked, trained: Configured, cross_label: str, typical: float) -> None:
    first, second = st.columns(2)
    first.metric(
        "1. Retrieve (bi-encoder)",
        f"{result.retrieve_seconds * 1000:,.1f} ms",
        f"{result.query_passes} pass for the query + {result.n_sentences:,} dot products",
        delta_color="off",
        delta_arrow="off",
        help="The sentences' vectors were computed once, before any query: only the query is encoded "
        "(0 passes when it was encoded before).",
    )
    second.metric(
        "2. Re-rank (cross-encoder)",
        f"{result.rerank_seconds * 1000:,.1f} ms",
        f"{result.pairs_scored} of {result.k} pairs scored now (the rest from its cache)",
        delta_color="off",
        delta_arrow="off",
        help=f"Only the top {result.k} pairs: the cross-encoder never reads the other "
        f"{result.n_sentences - result.k:,} sentences.",
    )
    table = result.table.assign(
        moved=[f"↑{change}" if change > 0 else f"↓{-change}" if change < 0 else "=" for change in result.table.change]
    )
    st.dataframe(
        table[["cross_rank", "bi_rank", "moved", "score", "cosine", "label", "sentence"]],
        hide_index=True,
        width="stretch",
        key=state.widget_key(state.PROJECTION, "rerank.table"),
        column_config={
            "cross_rank": st.column_config.NumberColumn("Re-ranked", help="Rank by the cross-encoder's score"),
            "bi_rank": st.column_config.NumberColumn("Retrieved", help="Rank by the bi-encoder's cosine"),
            "moved": st.column_config.TextColumn("Moved", help="Places gained (↑) or lost (↓) by re-ranking"),
            "score": st.column_config.NumberColumn("Cross-encoder score", format="%.3f", help="0..1, not a cosine"),
            "cosine": st.column_config.NumberColumn("Bi-encoder cosine", format="%.3f"),
            "label": "Label",
            "sentence": st.column_config.TextColumn("Sentence", width="large"),
        },
    )
    st.caption(
        f"Retrieved by {trained.spec.model} (cosine of its vectors), re-ranked by {cross_label} (a score per pair; "
        f"its random pairs score {typical:.3f} on average). Times measured now with time.perf_counter; a pass "
        "already cached costs nothing."
    )


def rerank_section(sentences: SentenceSet, trained: Configured) -> None:
    """The "Retrieve and re-rank" section of the Projection page, with the cost expander."""
    st.subheader("Retrieve and re-rank")
    st.caption(
        "Search the set the fast way, then read closely: the bi-encoder compares the query's vector with every "
        "sentence's (one pass for the query), the cross-encoder reads the query with each of the top k only "
        "(k passes), which is why search engines chain them."
    )
    cross = cross_choice(state.PROJECTION)
    if cross is None:
        if available_cross_encoders():
            st.info("Pick a cross-encoder above to re-rank the bi-encoder's top k.", icon="ℹ️")
        else:
            notes.info(
                "Pick a cross-encoder above to re-rank the bi-encoder's top k. {}", Markdown(TRAIN_HINT), icon="ℹ️"
            )
        return
    query, k = _query_form()
    if query.strip():
        try:
            vectors = embeddings(sentences.sentences, trained.spec)
            result = retrieve_and_rerank(
                trained.encoder, trained.spec, sentences.sentences, sentences.labels, vectors, cross.engine, query, k
            )
            with st.spinner(BASELINE_SPINNER):
                typical = cross_baseline(cross).mean
            _show(result, trained, cross.label, typical)
        except EmbedLabError as error:
            notes.error("{}", error, icon="⚠️")
    else:
        notes.info("Type a query, e.g. “{}”.", EXAMPLE_QUERY, icon="🔎")
    costs_expander(state.PROJECTION, cross, trained, sentences.sentences, query)
