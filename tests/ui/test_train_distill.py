"""AppTest of the Train page's "Distill a static model": it queues a run of the method ``distill`` on the chosen start
model and width, which this session then sees in the queue like any run."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from components.train import distill_panel, train_queue, train_run
from tests.helpers import stop_started_workers
from tests.ui.apptest import ok, page_test


def test_distill_queues_a_static_run_of_the_chosen_model_and_width(tiny_st_dir, tmp_path, monkeypatch):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(tiny_st_dir, models / "tiny")
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(models))
    monkeypatch.setenv("EMBEDLAB_AUTO_WORKER", "0")
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    train_queue._queue_of.clear()
    try:
        at: AppTest = ok(page_test("train").run())
        box = at.selectbox(key=f"{distill_panel.KEY}.model")
        assert str(models / "tiny") in box.options
        box.set_value(str(models / "tiny"))
        at.number_input(key=f"{distill_panel.KEY}.dims").set_value(16)
        at.text_input(key=f"{distill_panel.KEY}.name").input("my-static")
        ok(at.button(key=distill_panel.BUTTON).click().run())
        assert distill_panel.ERROR not in at.session_state
        (view,) = train_queue.job_queue().views(at.session_state[train_run.OWNER])
        assert view.method == "distill" and view.name == "my-static" and view.state == "queued"
        assert view.composition.model == str(models / "tiny") and "PCA to 16 dimensions" in view.source
    finally:
        stop_started_workers()
        train_queue._queue_of.clear()
