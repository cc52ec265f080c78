"""AppTest of placing your own sentences on the Projection page's maps: the crosses sit where the fitted projection
puts them, only the new sentences are encoded, nothing is refitted, and the neighbours come from the original
space."""

from __future__ import annotations

import numpy as np

from components.shared import state
from components.shared.services import get_encoder
from embedlab.limits import MAX_PLACED
from embedlab.tasks.projection import fit_projection, query_neighbour_table
from tests.ui.test_projection_page import PCA, SMALL, charts, page, run, specs

NEW = ("Preheat the oven and knead the dough.", "The striker missed an open goal.")


def placed_trace(figure: dict) -> dict:
    return next(trace for trace in figure["data"] if trace["name"] == "your sentences (placed)")


def xy(trace: dict) -> np.ndarray:
    from tests.ui.test_tokens_attention import decode

    return np.stack([decode(trace["x"]), decode(trace["y"])], axis=1)


def place(at, text: str):
    at.text_area(key=state.PROJECTION_PLACE_WIDGET).input(text)
    next(button for button in at.button if button.label == "Place").click()
    return run(at)


def test_placed_sentences_sit_where_the_fitted_projection_puts_them(projections):
    at = run(page(PCA))
    assert len(projections) == 2  # raw and trained, fitted once each
    encoders = {side: get_encoder(spec.model) for side, spec in specs(at).items()}
    encoded = {side: encoder.texts_encoded for side, encoder in encoders.items()}
    at = place(at, "\n".join(NEW) + "\n\n" + NEW[0])  # a blank line and a repeat are dropped
    assert len(projections) == 2  # nothing refitted
    for side, encoder in encoders.items():  # only the new sentences went through the model, once per model
        assert encoder.texts_encoded - encoded[side] == len(NEW)
    for figure, (side, spec) in zip(charts(at), specs(at).items(), strict=True):
        trace = placed_trace(figure)
        assert trace["text"] == ["P1", "P2"]
        vectors = encoders[side].embed(SMALL.sentences, spec)
        expected = fit_projection(vectors, PCA).place(encoders[side].embed(NEW, spec))
        np.testing.assert_allclose(xy(trace), expected, atol=1e-5)
    # Beside each map, each placed sentence's nearest sentences by cosine in the original space.
    spec = specs(at)["trained"]
    near = query_neighbour_table(
        SMALL.sentences,
        SMALL.labels,
        encoders["trained"].embed(SMALL.sentences, spec),
        encoders["trained"].embed(NEW[:1], spec)[0],
        3,
    )
    assert any(md.value.startswith("**P1**") and near.sentence.iloc[0] in md.value for md in at.markdown)
    assert near.label.iloc[0] == "cooking"
    assert any("A placed sentence (✕) is approximate" in caption.value for caption in at.caption)
    # The sentences survive a rerun (kept for the session).
    run(at)
    assert placed_trace(charts(at)[0])["text"] == ["P1", "P2"]


def test_too_many_sentences_are_refused_and_kept(projections):
    at = run(page(PCA))
    text = "\n".join(f"Sentence number {i}." for i in range(MAX_PLACED + 1))
    at = place(at, text)
    assert any(f"at most {MAX_PLACED}" in error.value for error in at.error)
    assert at.text_area(key=state.PROJECTION_PLACE_WIDGET).value == text  # what the user typed is kept
    assert all(trace["name"] != "your sentences (placed)" for figure in charts(at) for trace in figure["data"])
