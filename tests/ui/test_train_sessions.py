"""AppTest of the Train page with two sessions: a run belongs to the session that started it.

The other session sees that a run is in progress, and nothing of it: no data source, no Stop, no error, no zip.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from components import train_run
from tests.helpers import first_step_event
from tests.ui.apptest import ok, page_test

WAIT = 300


def key(name: str) -> str:
    return f"train.{name}.widget"


def session(tiny_model_dir) -> AppTest:
    at = ok(page_test("train").run())
    at.selectbox(key=key("model_pick")).set_value("other…")
    ok(at.run())
    at.text_input(key=key("model_typed")).input(str(tiny_model_dir))
    return ok(at.run())


def texts(at: AppTest) -> str:
    return "\n".join(element.value for kind in (at.markdown, at.info, at.error, at.caption) for element in kind)


def test_another_session_sees_that_a_run_is_in_progress_and_nothing_else(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    train_run.training_jobs.clear()
    owner = session(tiny_model_dir)
    owner.selectbox(key=key("method")).set_value("mnrl")
    owner.radio(key=key("source")).set_value("bundled")
    owner.text_input(key=key("eval_path")).input("")
    owner.radio(key=key("length")).set_value("max steps")
    ok(owner.run())
    owner.number_input(key=key("steps")).set_value(100_000)
    owner.number_input(key=key("batch")).set_value(2)
    owner.text_input(key=key("name")).input("owned-model")
    ok(owner.run())
    jobs = train_run.training_jobs()
    stepped = first_step_event(jobs)
    owner.button(key="train.start").click()
    ok(owner.run())
    token = owner.session_state[train_run.OWNER]
    try:
        assert stepped.wait(WAIT)
        other = session(tiny_model_dir)
        shown = texts(other)
        assert "A run by another session is in progress" in shown
        source = jobs.view(token).request.data.source
        assert "Run 1" not in shown and source not in shown  # not the run's title, not its data source
        assert not [button for button in other.button if button.key == train_run.STOP_BUTTON]
        assert not [box for box in other.checkbox if box.key == train_run.KEEP_PARTIAL]
        # The owner still has its Stop button and sees its own run's data source.
        ok(owner.run())
        assert [button for button in owner.button if button.key == train_run.STOP_BUTTON]
        assert "Run 1: mnrl" in "\n".join(element.value for element in owner.markdown)
    finally:
        jobs.stop(owner=token, keep_partial=False)
    assert jobs.wait(timeout=WAIT, owner=token).status == "stopped"
    ok(other.run())
    assert "No training has run in this session yet" in texts(other)
