"""Retrieval: does the model find the right document for a query, on your data, against BM25 and a re-ranker?"""

from __future__ import annotations

import streamlit as st

from components.retrieval import hardneg_view, retrieval_view
from components.shared import notes


def page() -> None:
    st.title("Retrieval")
    st.caption(
        "A query against a corpus: does the relevant document come first? nDCG@10, MRR@10, Recall@1/10/100 and "
        "MAP@100 (ir-measures), per system, with a paired test between every two. The STS dev paraphrase set is "
        "easy for a trained model (nDCG@10 0.96) and hard for a BERT without similarity training (0.77 with random "
        "weights); BM25 does well too (0.91): a paraphrase shares most of its words."
    )
    retrieval_view.init_state()
    answer = st.container()  # the table first; data and systems, which feed it, below
    st.subheader("Data and systems")
    data = retrieval_view.data_source()
    models, bm25, cross, top_k = retrieval_view.systems_choice()
    if data is None:
        return
    hardneg_view.mine_panel(data, models)  # below the systems; the table stays on top
    with answer:
        notes.caption("{}: {}", data.name, data.describe())
        for note in data.notes:
            notes.caption("{}", note)
        if not models and not bm25:
            notes.info("Pick at least one system: a bi-encoder or BM25.")
            return
        notes.caption("{}", retrieval_view.cost_line(data, models, cross, top_k))
        system_runs = retrieval_view.runs(data, models, bm25, cross, top_k)
        if system_runs:
            retrieval_view.show_results(retrieval_view.report_for(data, system_runs))


page()
