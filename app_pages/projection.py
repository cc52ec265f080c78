"""Projection: many sentences as points, raw pooling and the trained model side by side, with nearest neighbours."""

from __future__ import annotations

import streamlit as st

from components.projection.corpus_view import corpus_section
from components.projection.maps_view import SIDES, neighbour_lists, plots, sentences_and_settings
from components.projection.projection_view import (
    downloads,
    projection,
    start_umap_warmup,
    unreadable_marks,
    unreadable_warning,
    wait_for_umap,
)
from components.projection.rerank_view import rerank_section
from components.shared import notes, state
from components.shared.config_panels import config_panels, texts_sent_caption
from components.shared.services import encode_unseen
from embedlab.errors import EmbedLabError
from embedlab.tasks.projection import coordinates_table


def page() -> None:
    st.title("Projection")
    st.caption(
        "Hundreds of sentences as points: does raw pooling already group them by topic, or only the trained model? "
        "Colour is the label, hover shows the sentence, search highlights matches in both pictures."
    )
    start_umap_warmup()
    panels = config_panels(state.PROJECTION)
    if panels is None:
        return
    raw, trained = panels
    configured = {"raw": raw, "trained": trained}

    # The two pictures first; the sentence source and the settings, which run before them, are shown below them.
    answer = st.container()
    st.subheader("Sentences and settings")
    chosen = sentences_and_settings()
    if chosen is None:
        return
    sentences, settings = chosen

    with answer:
        try:
            for side in SIDES:
                encode_unseen(
                    configured[side].encoder, sentences.sentences, configured[side].spec.model, configured[side].spec
                )
            if settings.method == "umap":
                wait_for_umap()
            with st.spinner(f"Projecting {len(sentences):,} sentences…"):
                shown = {side: projection(sentences.sentences, configured[side].spec, settings) for side in SIDES}
        except EmbedLabError as error:
            notes.error("{}", error, icon="⚠️")
            return
        marks = {side: unreadable_marks(configured[side].encoder, sentences.sentences) for side in SIDES}
        unreadable_warning(marks, {side: configured[side].spec.model for side in SIDES})
        plots(sentences, configured, shown, marks, settings)
        sent_slot = st.container()  # filled last: the neighbour lists below may send the baseline's sentences
    neighbour_lists(sentences, configured, marks)
    rerank_section(sentences, trained)
    st.subheader("Downloads")
    coordinates = coordinates_table(sentences.sentences, sentences.labels, {side: shown[side].coords for side in SIDES})
    downloads(sentences, raw, trained, coordinates)
    corpus_section(trained.spec.model, raw.spec.model)
    with sent_slot:
        texts_sent_caption(trained)


page()
