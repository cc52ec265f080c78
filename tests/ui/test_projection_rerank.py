"""AppTest of Projection's "retrieve and re-rank": the bi-encoder's top k from the set's cached vectors, then only those
k pairs scored by the cross-encoder (CrossEncoder(dir).predict), with the rank change and each step's passes."""

from __future__ import annotations

import json

import numpy as np
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.shared.services import get_encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.projection import ProjectionSettings, parse_sentence_lines, query_neighbour_table
from tests.ui.apptest import ok, page_test
from tests.ui.test_projection_page import SMALL_TEXT

BOX = state.widget_key(state.PROJECTION, "cross.model")
QUERY = "Who won the game?"


def projection(**seed) -> AppTest:
    at = page_test("projection")
    at.session_state[state.PROJECTION_SOURCE] = "text"
    at.session_state[state.PROJECTION_TEXT] = SMALL_TEXT
    at.session_state[state.PROJECTION_SETTINGS] = ProjectionSettings(method="pca")
    for key, value in seed.items():
        at.session_state[key] = value
    return ok(at.run())


def rerank_table(at: AppTest):
    return next(frame.value for frame in at.dataframe if "cross_rank" in frame.value.columns)


def metric(at: AppTest, prefix: str):
    return next(m for m in at.metric if m.label.startswith(prefix))


def test_retrieve_then_rerank_only_the_top_k(cross_dir):
    from sentence_transformers import CrossEncoder

    at = projection(**{BOX: str(cross_dir)})
    assert any("Type a query" in info.value for info in at.info)
    at.text_input(key=state.PROJECTION_RERANK_QUERY_WIDGET).input(QUERY)
    at.number_input(key=state.PROJECTION_RERANK_K_WIDGET).set_value(5)
    next(button for button in at.button if button.label == "Retrieve and re-rank").click()
    ok(at.run())
    table = rerank_table(at)
    assert len(table) == 5 and list(table.cross_rank) == [1, 2, 3, 4, 5]

    sentences = parse_sentence_lines(SMALL_TEXT)
    encoder = get_encoder("all-MiniLM-L6-v2")
    spec = EmbedSpec("all-MiniLM-L6-v2", "model")
    vectors = encoder.embed(sentences.sentences, spec)
    top = query_neighbour_table(sentences.sentences, sentences.labels, vectors, encoder.embed([QUERY], spec)[0], 5)
    assert set(table.sentence) == set(top.sentence)  # the bi-encoder's top 5, and only those are re-ranked
    expected = CrossEncoder(str(cross_dir), device="cpu").predict([(QUERY, s) for s in table.sentence])
    np.testing.assert_allclose(table.score.to_numpy(dtype=float), expected, atol=1e-5)
    assert list(table.score) == sorted(table.score, reverse=True)
    ranks = dict(zip(top.sentence, top["rank"], strict=True))
    assert list(table.bi_rank) == [ranks[s] for s in table.sentence]
    moved = {1: "↑1", 0: "=", -2: "↓2"}
    for bi_rank, cross_rank, shown in zip(table.bi_rank, table.cross_rank, table.moved, strict=True):
        change = bi_rank - cross_rank
        assert shown == moved.get(change, f"↑{change}" if change > 0 else f"↓{-change}")
    assert "5 of 5 pairs scored now" in metric(at, "2. Re-rank").delta
    assert metric(at, "1. Retrieve").delta.startswith(f"1 pass for the query + {len(sentences)}")

    ok(at.run())  # the same query again: both steps come from the caches
    assert "0 of 5 pairs scored now" in metric(at, "2. Re-rank").delta
    assert metric(at, "1. Retrieve").delta.startswith("0 pass")
    assert any(b.label.startswith("Measure now") for b in at.button)  # the cost expander is there too


def test_without_a_cross_encoder_the_section_says_how_to_get_one():
    at = projection()
    assert any("Pick a cross-encoder" in info.value and "--method cross-encoder" in info.value for info in at.info)
    assert not [frame for frame in at.dataframe if "cross_rank" in frame.value.columns]


def test_a_link_restores_the_cross_encoder_and_the_query(cross_dir):
    at = page_test()
    at.query_params.update({"cross": str(cross_dir), "rerank": QUERY, "source": "bundled"})
    at.session_state[state.PROJECTION_SETTINGS] = ProjectionSettings(method="pca")
    at.switch_page("app_pages/projection.py")
    ok(at.run())
    assert at.session_state[state.CROSS_ENCODER] == str(cross_dir)
    assert at.session_state[state.PROJECTION_RERANK_QUERY] == QUERY
    assert len(rerank_table(at)) == 10
    assert at.query_params["rerank"] == QUERY and at.query_params["cross"] == str(cross_dir)
    assert "settings" in at.query_params and json.loads(at.query_params["settings"])["method"] == "pca"
