"""The Retrieval page: systems x metrics on a slice of the bundled set, the paired test, the worst queries and one
query up close; a model without vectors is refused in a note while the rest carries on; a link restores the view."""

from __future__ import annotations

import json

import pytest
import streamlit as st

import components.retrieval.retrieval_view as view
from components.shared import state
from tests.ui.apptest import ok, page_test, shown

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture
def small_slice(sts_benchmark, monkeypatch):
    """A slice of 10 queries and 50 documents (the page's own is 40 and 400), its cache emptied around the test."""
    monkeypatch.setattr(view, "SLICE_QUERIES", 10)
    monkeypatch.setattr(view, "SLICE_DOCUMENTS", 50)
    view.bundled.clear()
    yield
    view.bundled.clear()


def texts(at) -> str:
    return " ".join(shown(element.value) for element in [*at.markdown, *at.caption])


def test_systems_metrics_paired_test_and_one_query(small_slice):
    at = ok(page_test("retrieval").run())
    table = at.dataframe[0].value
    assert list(table.index) == ["BM25", f"{MODEL} · own pipeline"]
    assert list(table.columns) == ["nDCG@10", "MRR@10", "Recall@1", "Recall@10", "Recall@100", "MAP@100"]
    assert ((table >= 0) & (table <= 1)).all().all() and table.loc[f"{MODEL} · own pipeline", "Recall@100"] == 1.0
    words = texts(at)
    assert "10 queries, 50 documents" in words and "50 corpus encodes once per model" in words
    assert "model passes here" in words
    assert f"nDCG@10 for {MODEL} · own pipeline over BM25, 95% CI" in words
    ranks = at.dataframe[1].value
    assert len(ranks) == 10 and list(ranks.columns) == ["query", "BM25", f"{MODEL} · own pipeline"]
    worst = ranks[f"{MODEL} · own pipeline"].fillna(101).tolist()
    assert worst == sorted(worst, reverse=True)  # the worst queries first
    last = ranks.index[-1]
    at.selectbox(key=state.RETRIEVAL_QUERY_WIDGET).set_value(last)
    ok(at.run())
    assert at.session_state[state.RETRIEVAL_QUERY] == last
    assert f"{last}: {view.bundled('slice', 0).queries[last]}" in texts(at)
    detail = at.dataframe[-1].value
    assert detail["relevant grade"].max() == 1 and {"rank", "document", "text", "cosine"} <= set(detail.columns)
    runs = len(at.session_state[state.RETRIEVAL_RUNS])
    at.checkbox(key=state.RETRIEVAL_BM25_WIDGET).uncheck()
    ok(at.run())
    assert len(at.dataframe[0].value) == 1 and len(at.session_state[state.RETRIEVAL_RUNS]) == runs  # no new run


def test_a_model_without_vectors_is_refused_and_the_rest_carries_on(small_slice, cross_dir):
    at = page_test("retrieval")
    at.session_state[state.RETRIEVAL_MODELS] = [str(cross_dir)]
    ok(at.run())
    assert any("could not run" in shown(error.value) for error in at.error)
    assert list(at.dataframe[0].value.index) == ["BM25"]


def test_a_link_restores_the_view_and_is_written_back(small_slice):
    st.cache_data.clear()
    at = page_test()
    at.query_params.update({"data": "slice", "models": "[]", "bm25": "true", "k": "7", "query": "q3"})
    at.switch_page("app_pages/retrieval.py")
    ok(at.run())
    assert at.session_state[state.RETRIEVAL_SOURCE] == "slice" and at.session_state[state.RETRIEVAL_TOP_K] == 7
    assert at.session_state[state.RETRIEVAL_QUERY] == "q3" and at.session_state[state.RETRIEVAL_MODELS] == []
    assert list(at.dataframe[0].value.index) == ["BM25"]
    assert (at.query_params["k"], at.query_params["query"], json.loads(at.query_params["bm25"])) == ("7", "q3", True)


def test_a_query_and_its_retrieved_set_go_to_the_projection_map(small_slice):
    at = page_test()  # the whole app: the button switches page
    at.switch_page("app_pages/retrieval.py")
    ok(at.run())
    system = f"{MODEL} · own pipeline"
    query_id = at.session_state[state.RETRIEVAL_QUERY]
    data = view.bundled("slice", 0)
    at.button(key=state.RETRIEVAL_TO_MAP_BUTTON).click()
    ok(at.run())
    lines = [line.split("\t") for line in at.session_state[state.PROJECTION_TEXT].splitlines()]
    assert lines[0] == ["query", data.queries[query_id]]
    relevant = {data.corpus[doc] for doc in data.relevant(query_id)}
    assert {text for label, text in lines if label == "relevant"} == relevant
    retrieved = [text for label, text in lines if label == f"retrieved by {system}"]
    assert 0 < len(retrieved) <= 10 and not set(retrieved) & relevant
    assert len(lines) == len({text for _, text in lines})  # no document twice
    at.switch_page("app_pages/projection.py")
    ok(at.run())
    assert at.session_state[state.PROJECTION_SOURCE] == "text"
    assert at.text_area(key=state.PROJECTION_TEXT_WIDGET).value.startswith(f"query\t{data.queries[query_id]}")
