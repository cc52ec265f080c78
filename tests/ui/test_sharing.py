"""Shareable links: a URL's query string restores a view, bad parameters are notes, long tables go to a file."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from components import state
from components.sharing import MAX_URL_CHARS, PENDING, query_from_view, read_view_file
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.projection import ProjectionSettings
from tests.ui.apptest import page_test

MODEL = "all-MiniLM-L6-v2"
RAW = {"model": MODEL, "pooling": "mean", "layers": "3", "post": "none", "post_dims": None}
PAIRS = [["A cat sits on the mat.", "A kitten rests on a rug."], ["Stocks fell today.", "The market dropped."]]


def app_with(params: dict[str, str], page: str | None = None) -> AppTest:
    at = page_test()
    at.query_params.update(params)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, prefix: str):
    return next(m for m in at.metric if m.label.startswith(prefix))


def notes(at: AppTest) -> list[str]:
    return [warning.value for warning in at.warning if "the link" in warning.value or "link's" in warning.value]


def test_compare_link_restores_pairs_configuration_and_selected_pair():
    at = app_with({"raw": json.dumps(RAW), "pairs": json.dumps(PAIRS), "pair": "2"})
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    table = at.session_state[state.PAIRS]
    assert table[["sentence1", "sentence2"]].values.tolist() == PAIRS
    assert at.session_state[state.SELECTED_PAIR] == 2
    assert "mean" in metric(at, "Raw ·").label and "layers 3" in metric(at, "Raw ·").label
    assert not notes(at)
    # the URL written back at the end of the run names the same view
    assert json.loads(at.query_params["pairs"]) == PAIRS
    assert json.loads(at.query_params["raw"]) == RAW
    assert at.query_params["pair"] == "2"


def test_changing_the_view_rewrites_the_url():
    at = app_with({})
    assert json.loads(at.query_params["raw"])["pooling"] == "cls"
    at.radio(key=state.widget_key(state.COMPARE, "raw.pooling")).set_value("max").run()
    assert not at.exception, at.exception
    assert json.loads(at.query_params["raw"])["pooling"] == "max"
    assert len(json.loads(at.query_params["pairs"])) == len(example_pairs())


def test_garbage_parameters_are_notes_and_the_page_works():
    at = app_with(
        {
            "raw": "{not json",
            "trained": json.dumps({**RAW, "pooling": "cls"}),  # the trained side only takes the model's own
            "pairs": json.dumps([["only one sentence"]]),
            "pair": "many",
            "colour": "blue",
        }
    )
    shown = " ".join(notes(at))
    for param in ("raw", "trained", "pairs", "pair", "colour"):
        assert f"`{param}`" in shown, param
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "cls", "-1")  # the default, untouched
    assert len(at.session_state[state.PAIRS]) == len(example_pairs())
    assert float(metric(at, "Raw ·").value) > 0  # scores shown as usual


def test_a_model_that_does_not_load_is_a_note():
    at = app_with({"raw": json.dumps({**RAW, "model": "no-such/model-anywhere"})})
    assert any("`raw`" in note for note in notes(at))
    assert at.session_state[state.RAW_SPEC].model == MODEL
    assert metric(at, "Raw ·")


def test_a_table_too_long_for_a_url_is_left_out_with_a_note():
    long_pairs = [[f"Sentence number {i} about one thing.", f"Sentence number {i} about another."] for i in range(40)]
    view = {"page": "compare", "raw": RAW, "pairs": long_pairs, "selected_pair": 1}
    params, left_out = query_from_view(view)
    assert "pairs" not in params and "raw" in params
    assert left_out and "Download view" in left_out[0]

    # a long table arrives (from a file, or a link made elsewhere): the URL written back leaves it out, with a note
    at = app_with({"pairs": json.dumps(long_pairs)})
    assert len(at.session_state[state.PAIRS]) == len(long_pairs)
    assert "pairs" not in at.query_params and "raw" in at.query_params
    assert any("too long" in caption.value for caption in at.sidebar.caption)


def test_view_file_round_trip():
    view = {
        "page": "projection",
        "raw": RAW,
        "sentences": "text",
        "text": "a\tOne sentence.\nb\tAnother one.\na\tA third.",
        "settings": {"method": "pca", "dims": 3, "n_neighbors": 5, "min_dist": 0.2, "seed": 7},
        "search": "one",
        "k": 2,
    }
    checked, found = read_view_file(json.dumps(view).encode("utf-8"))
    assert checked == view and not found
    params, left_out = query_from_view(checked)
    assert not left_out and len("&".join(f"{k}={v}" for k, v in params.items())) < MAX_URL_CHARS

    at = app_with(params, "app_pages/projection.py")
    assert at.session_state[state.PROJECTION_SOURCE] == "text"
    assert at.session_state[state.PROJECTION_SETTINGS] == ProjectionSettings("pca", 3, 5, 0.2, 7)
    assert at.session_state[state.PROJECTION_QUERY] == "one"
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    assert json.loads(at.query_params["settings"]) == view["settings"]
    assert at.query_params["text"] == view["text"]
    download = next(b for b in at.sidebar.get("download_button") if "Download view" in str(b.proto.label))
    assert download  # the same view, as a file, in the sidebar


def test_bad_view_file_fields_are_notes():
    checked, found = read_view_file(json.dumps({"page": "compare", "pairs": "x", "colour": 1}).encode())
    assert checked == {"page": "compare"}
    assert any("`pairs`" in note for note in found) and any("`colour`" in note for note in found)
    with pytest.raises(Exception, match="names no page"):
        read_view_file(json.dumps({"page": "nowhere"}).encode())


def test_negative_tests_and_sts_links():
    at = app_with(
        {"raw": json.dumps(RAW), "suite": "bundled", "thresholds": json.dumps({"trained": 0.5})},
        "app_pages/negative_tests.py",
    )
    trained = at.session_state[state.TRAINED_SPEC]
    assert at.session_state[state.negtest_threshold(trained.label)] == 0.5
    assert json.loads(at.query_params["thresholds"]) == {"trained": 0.5}
    assert at.query_params["suite"] == "bundled"

    at = app_with({"models": json.dumps([MODEL]), "data": "bundled"}, "app_pages/sts_eval.py")
    assert at.session_state[state.STS_MODELS] == [MODEL]
    assert json.loads(at.query_params["models"]) == [MODEL]
    assert not notes(at)
    assert any(header.value == "Best configurations" for header in at.subheader)


def test_tokens_link_restores_sentences_and_configuration():
    at = app_with(
        {"raw": json.dumps(RAW), "sentences": json.dumps(["The bank is closed.", "We sat on the bank."])},
        "app_pages/tokens.py",
    )
    assert at.session_state["tokens.sentences"] == ("The bank is closed.", "We sat on the bank.")
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    assert json.loads(at.query_params["sentences"]) == ["The bank is closed.", "We sat on the bank."]
    assert not notes(at)


def test_an_uploaded_view_opens_its_page_on_the_next_run():
    at = app_with({})
    view, found = read_view_file(json.dumps({"page": "compare", "raw": RAW, "pairs": PAIRS}).encode())
    at.session_state[PENDING] = (view, found)  # what the sidebar's uploader leaves for the next run
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    assert at.session_state[state.PAIRS][["sentence1", "sentence2"]].values.tolist() == PAIRS
    assert any("Opened the uploaded view" in message.value for message in at.success)


def test_wrongly_typed_file_fields_are_notes():
    view = {"page": "compare", "selected_pair": "x", "raw": RAW}
    checked, found = read_view_file(json.dumps(view).encode())
    assert checked == {"page": "compare", "raw": RAW}
    assert any("`selected_pair`" in note for note in found)
    view = {"page": "sts_eval", "models": "all", "hub": ["x", "y"], "data": "hub"}
    checked, found = read_view_file(json.dumps(view).encode())
    assert checked == {"page": "sts_eval", "data": "hub"}
    assert len(found) == 2
