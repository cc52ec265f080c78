"""AppTest of the Train page's Matryoshka option: a checkbox that wraps the chosen loss in MatryoshkaLoss at the widths
typed, refused in words (Start off) for the losses it cannot wrap and for widths that do not fit, and queued as a run
of the chosen method wrapped (no worker runs here: the run itself is tested in tests/core/test_matryoshka.py)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from components.train import train_queue, train_run
from tests.ui.apptest import ok, page_test


def key(name: str) -> str:
    return f"train.{name}.widget"


@pytest.fixture()
def app(tiny_model_dir, tmp_path, monkeypatch) -> AppTest:
    """The page on the tiny model (width 32), mnrl on the bundled pairs, the queue under a temporary directory and
    no worker started."""
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("EMBEDLAB_AUTO_WORKER", "0")
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    train_queue._queue_of.clear()
    at = ok(page_test("train").run())
    at.selectbox(key=key("model_pick")).set_value("other…")
    ok(at.run())
    at.text_input(key=key("model_typed")).input(str(tiny_model_dir))
    ok(at.run())
    at.selectbox(key=key("method")).set_value("mnrl")
    at.radio(key=key("source")).set_value("bundled")
    at.text_input(key=key("eval_path")).input("")
    yield ok(at.run())
    train_queue._queue_of.clear()


def errors(at: AppTest) -> str:
    return " ".join(error.value for error in at.error)


def test_the_checkbox_wraps_the_chosen_loss_and_refuses_what_it_cannot_wrap(app):
    assert app.text_input(key=key("matryoshka_dims")).disabled  # off until asked
    assert not any("MatryoshkaLoss" in caption.value for caption in app.caption)
    app.checkbox(key=key("matryoshka")).check()
    ok(app.run())
    assert any("loss: MatryoshkaLoss(MultipleNegativesRankingLoss)" in caption.value for caption in app.caption)
    code = " ".join(element.value for element in app.code)
    assert "loss = losses.MatryoshkaLoss(model, loss, [full, *[k for k in (512, 256, 128, 64, 32, 16)" in code
    assert not app.button(key=train_run.START_BUTTON).disabled

    for typed, said in (("16;8", "Matryoshka widths: '16;8' is not a width"), ("64", "wider than the embedding")):
        app.text_input(key=key("matryoshka_dims")).input(typed)
        ok(app.run())
        assert said in errors(app) and app.button(key=train_run.START_BUTTON).disabled
    app.text_input(key=key("matryoshka_dims")).input("16")
    ok(app.run())
    assert not errors(app) and not app.button(key=train_run.START_BUTTON).disabled

    for method, said in (
        ("tsdae", "TSDAE decodes the sentence from its whole embedding"),
        ("cross-encoder", "A cross-encoder outputs one score per pair, not sentence vectors"),
    ):
        app.selectbox(key=key("method")).set_value(method)
        ok(app.run())
        assert said in errors(app) and "Choose cosine, cosent, mnrl or simcse" in errors(app)
        starts = [button for button in app.button if button.key == train_run.START_BUTTON]
        assert all(button.disabled for button in starts)  # (a cross-encoder has no bundled data: no Start at all)
    app.checkbox(key=key("matryoshka")).uncheck()  # the same method without the wrapper: no refusal
    ok(app.run())
    assert "cross-encoder outputs one score" not in errors(app)


def test_start_queues_the_chosen_method_wrapped_at_the_widths_typed(app):
    app.checkbox(key=key("matryoshka")).check()
    ok(app.run())
    app.text_input(key=key("matryoshka_dims")).input("16, 8")
    app.radio(key=key("length")).set_value("max steps")
    ok(app.run())
    app.number_input(key=key("steps")).set_value(2)
    ok(app.run())
    app.text_input(key=key("name")).input("wrapped")
    ok(app.run())
    app.button(key=train_run.START_BUTTON).click()
    ok(app.run())
    (view,) = train_queue.job_queue().views(app.session_state[train_run.OWNER])
    assert view.method == "mnrl+matryoshka" and view.state == "queued" and view.name == "wrapped"
    assert "mnrl+matryoshka" in " ".join(app.dataframe[0].value["method"])
    job_id, request = train_queue.job_queue().store.dequeue()  # what a worker would train
    assert job_id == view.job_id and request.method == "mnrl" and request.data.matryoshka == (16, 8)
