"""Lesson: the story of sentence embeddings in ten steps, every number computed live with the models in force."""

from __future__ import annotations

import streamlit as st

from components.lesson import lesson_view
from components.shared import notes, state
from components.shared.config_panels import init_specs
from components.shared.services import load_encoder
from embedlab.errors import EmbedLabError
from embedlab.models.names import PACKAGED
from embedlab.scorers.registry import kind_of


def page() -> None:
    st.title("Lesson")
    st.caption(
        "Why a raw BERT cosine misleads and what fixes it, step by step. Every number below is computed now with "
        "the raw model and the trained model chosen on the other pages; each step opens the page that shows it."
    )
    init_specs()
    raw_model = st.session_state[state.RAW_SPEC].model
    trained_model = st.session_state[state.TRAINED_SPEC].model
    if "postprocess" not in kind_of(trained_model).capabilities:  # the lesson fits post-processings
        notes.info(
            "**{}** gives sentence vectors only: the lesson uses {} as its trained model (Compare, "
            "Projection, Negative tests and STS evaluation use yours).",
            trained_model,
            PACKAGED,
            icon="ℹ️",
        )
        trained_model = PACKAGED
    notes.caption("Raw model: **{}** · trained model: **{}** (its own pipeline).", raw_model, trained_model)
    try:
        raw_encoder = load_encoder(raw_model)
        lesson = lesson_view.compute(raw_model, trained_model)
    except EmbedLabError as error:
        notes.error("{}  \nPick another model on the Compare page.", error, icon="⚠️")
        return
    lesson_view.show(lesson, raw_encoder)


page()
