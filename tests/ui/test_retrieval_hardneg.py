"""The Retrieval page's "Mine hard negatives": the triplets shown (never a relevant document of their query), and
"Train with these" opening the Train page on MNRL with those triplets as its data."""

from __future__ import annotations

import pytest

import components.retrieval.retrieval_view as view
from components.shared import state
from components.train import train_form, train_queue, train_run
from embedlab.retrieval.hardneg import TRIPLET_COLUMNS
from embedlab.training.data import parse_training_text
from tests.helpers import stop_started_workers, wait_for
from tests.ui.apptest import ok, page_test, shown

MODEL = "all-MiniLM-L6-v2"


def key(name: str) -> str:
    return f"train.{name}.widget"


@pytest.fixture
def small_slice(sts_benchmark, monkeypatch):
    """A slice of 10 queries and 40 documents, its cache emptied around the test."""
    monkeypatch.setattr(view, "SLICE_QUERIES", 10)
    monkeypatch.setattr(view, "SLICE_DOCUMENTS", 40)
    view.bundled.clear()
    yield
    view.bundled.clear()


def test_the_mined_source_without_a_hand_over_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    at = ok(page_test("train").run())
    at.selectbox(key=key("method")).set_value("mnrl")
    at.radio(key=key("source")).set_value("mined")
    ok(at.run())
    assert any("mine them on the Retrieval page" in error.value for error in at.error)


@pytest.fixture
def own_queue(tmp_path, monkeypatch):
    """Models and the training queue under a temporary directory; the worker a run starts is stopped after."""
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    train_queue._queue_of.clear()
    yield
    stop_started_workers()
    train_queue._queue_of.clear()


def test_mine_show_train_with_these_and_see_retrieval_before_and_after(small_slice, own_queue, tiny_model_dir):
    """Mine on Retrieval, the triplets shown, "Train with these", a 2-step run of the tiny model on them: the
    before/after table has retrieval on the held-out queries."""
    at = page_test()
    at.session_state[state.RETRIEVAL_MODELS] = [MODEL]
    at.session_state[state.RETRIEVAL_BM25] = False
    at.switch_page("app_pages/retrieval.py")
    ok(at.run())
    button = at.button(key=state.RETRIEVAL_MINE_BUTTON)
    assert "40 corpus encodes + 8 query encodes" in button.label  # the cost, before it runs: 2 of 10 held out
    button.click()
    ok(at.run())
    mined = at.session_state[state.RETRIEVAL_MINED]
    data = view.bundled("slice", 0)
    assert len(mined.held_out) == 2 and mined.model == MODEL and len(mined.table) > 0
    shown_table = at.dataframe[-1].value
    assert list(shown_table.columns[:3]) == list(TRIPLET_COLUMNS) and len(shown_table) == len(mined.table)
    for query, negative in zip(shown_table["sentence1"], shown_table["negative"], strict=True):
        query_id = next(q for q, text in data.queries.items() if text == query)
        assert query_id not in mined.held_out
        assert negative not in {data.corpus[d] for d in data.relevant(query_id)}
    assert any(f"{len(mined.table)} triplets from" in shown(caption.value) for caption in at.caption)
    assert parse_training_text(mined.csv().decode(), "mnrl", "hard-negatives.csv").n_examples == len(mined.table)
    at.button(key=state.RETRIEVAL_TRAIN_BUTTON).click()
    ok(at.run())
    assert at.session_state[train_form.CHOICES]["source"] == "mined"
    assert at.selectbox(key=key("method")).value == "mnrl" and at.radio(key=key("source")).value == "mined"
    words = " ".join(shown(caption.value) for caption in at.caption)
    assert f"{len(mined.table)} triplets with hard negatives" in words and "MultipleNegativesRankingLoss" in words
    assert "nDCG@10, MRR@10 and Recall@10 on the 2 held-out queries (40 corpus encodes each time)" in words
    at.switch_page("app_pages/train.py")  # AppTest reruns the page it was last told to: the browser is on Train now
    assert at.radio(key=key("source")).value == "mined"
    at.selectbox(key=key("model_pick")).set_value("other…")
    ok(at.run())
    at.text_input(key=key("model_typed")).input(str(tiny_model_dir))
    ok(at.run())
    at.text_input(key=key("eval_path")).input("")
    at.radio(key=key("length")).set_value("max steps")
    ok(at.run())
    at.number_input(key=key("steps")).set_value(2)
    at.number_input(key=key("batch")).set_value(4)
    at.text_input(key=key("name")).input("mined-run")
    ok(at.run())
    at.button(key=train_run.START_BUTTON).click()
    ok(at.run())

    def ended():
        views = train_queue.job_queue().views(at.session_state[train_run.OWNER])
        return next((view for view in views if view.mine and not view.active), None)

    run_view = wait_for(ended, "the run to end", 600)
    assert run_view.state == "finished", run_view.message
    ok(at.run())
    (table,) = [frame.value for frame in at.dataframe if "measure" in frame.value.columns]
    rows = table.set_index("measure")
    assert {"nDCG@10 on held-out queries", "MRR@10 on held-out queries", "Recall@10 on held-out queries"} <= set(
        rows.index
    )
    for label in ("nDCG@10", "MRR@10", "Recall@10"):
        assert rows.loc[f"{label} on held-out queries", "before"] == f"{run_view.before.retrieval[label]:.3f}"
        assert rows.loc[f"{label} on held-out queries", "after"] == f"{run_view.after.retrieval[label]:.3f}"
