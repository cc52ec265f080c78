"""Tokens & layers: the tensor behind a sentence vector, token by token and layer by layer."""

from __future__ import annotations

import streamlit as st

from components.shared import notes
from components.tokens import attention_view, tokens_view
from embedlab.errors import EmbedLabError


def page() -> None:
    st.title("Tokens & layers")
    st.caption(
        "`model(**inputs, output_hidden_states=True)` returns one vector per token at every layer. "
        "A sentence vector is a choice among them: which layer, which tokens, which pooling. Here is the tensor."
    )
    configured = tokens_view.configuration()
    if configured is None:
        return
    texts = tokens_view.sentences()
    try:
        with st.spinner("Running the model on your sentences…"):
            states = tokens_view.cached_token_states(configured.spec.model, texts)
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return
    tokens_view.tokenization(states)
    tokens_view.token_layers(states, configured.spec)
    attention_view.section(texts)
    tokens_view.token_pairs(states, configured)
    tokens_view.word_context(configured)
    tokens_view.anisotropy(configured)


page()
