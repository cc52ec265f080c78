"""AppTest of the Train page with two sessions on one queue: a run belongs to the session that queued it.

The other session sees the run in the queue (name, method, state, progress) and nothing else of it: no data
source, no Stop; its own run waits its turn with its position. The admin token typed in the sidebar gives a Stop
button on every run, and is never shown again. A real worker (started by the page) trains the runs.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from components.shared import admin_box as admin
from components.train import train_queue, train_run
from embedlab.training import queue
from embedlab.training.queue import ADMIN_ENV
from tests.helpers import stop_started_workers, wait_for
from tests.ui.apptest import ok, page_test, queue_small_run

WAIT = 600
ADMIN = "teacher-secret-42"


def key(name: str) -> str:
    return f"train.{name}.widget"


@pytest.fixture
def queue_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    monkeypatch.setenv(ADMIN_ENV, ADMIN)
    train_queue._queue_of.clear()
    yield tmp_path / "models"
    stop_started_workers()
    train_queue._queue_of.clear()


def session(tiny_model_dir) -> AppTest:
    at = ok(page_test("train").run())
    at.selectbox(key=key("model_pick")).set_value("other…")
    ok(at.run())
    at.text_input(key=key("model_typed")).input(str(tiny_model_dir))
    return ok(at.run())


def queue_rows(at: AppTest) -> dict[str, dict]:
    (table,) = [frame.value for frame in at.dataframe if "owner" in frame.value.columns]
    return {row["run"]: row for row in table.to_dict("records")}


def stop_keys(at: AppTest) -> set[str]:
    return {button.key for button in at.button if button.key and button.key.startswith(train_run.STOP_BUTTON)}


def test_a_run_belongs_to_its_session_and_the_next_one_waits_with_its_position(tiny_model_dir, queue_dir):
    owner = session(tiny_model_dir)
    queue_small_run(owner, "owned-model", 100_000, batch=2)
    jobs = train_queue.job_queue()
    token = owner.session_state[train_run.OWNER]
    (first,) = jobs.views(token)
    wait_for(lambda: jobs.view(first.job_id).state == "running", "the first run to start", WAIT)

    other = session(tiny_model_dir)
    queue_small_run(other, "second-model", 2, batch=2)
    assert len(queue._STARTED) == 1  # a worker was alive (its heartbeat): the second run started none
    assert not any("started one on this machine" in info.value for info in other.info)
    rows = queue_rows(other)
    assert rows["owned-model"]["owner"] != "you" and rows["owned-model"]["state"] == "running"
    assert rows["second-model"]["owner"] == "you" and rows["second-model"]["progress"].startswith("position 1")
    shown = "\n".join(element.value for kind in (other.markdown, other.caption, other.info) for element in kind)
    assert jobs.view(first.job_id, token).source and "owned-model: mnrl on" not in shown  # no details of it
    second_id = jobs.views(other.session_state[train_run.OWNER])[1].job_id
    assert stop_keys(other) == {f"{train_run.STOP_BUTTON}.{second_id}"}  # its own Cancel, no Stop for the other
    assert [bar.text for bar in other.get("progress")][0].startswith("second-model: queued, position 1")

    ok(owner.run())
    assert f"{train_run.STOP_BUTTON}.{first.job_id}" in stop_keys(owner)

    # The teacher: the admin token typed once in the sidebar gives Stop on every run; the token is not kept.
    teacher = ok(page_test().run())
    teacher.text_input(key=admin.TOKEN_BOX).input("wrong")
    ok(teacher.run())
    assert not teacher.session_state[admin.ADMIN]
    teacher.text_input(key=admin.TOKEN_BOX).input(ADMIN)
    ok(teacher.run())
    assert teacher.session_state[admin.ADMIN] and teacher.session_state[admin.TOKEN_BOX] == ""
    teacher.switch_page("app_pages/train.py")
    ok(teacher.run())
    assert f"{train_run.STOP_BUTTON}.{first.job_id}" in stop_keys(teacher)
    teacher.button(key=f"{train_run.STOP_BUTTON}.{first.job_id}").click()
    ok(teacher.run())
    stopped = wait_for(lambda: not jobs.view(first.job_id).active and jobs.view(first.job_id), "the stop", WAIT)
    assert stopped.state == "stopped"
    second = wait_for(
        lambda: (view := jobs.views(other.session_state[train_run.OWNER])[0]).state == "finished" and view,
        "the second run to finish",
        WAIT,
    )
    assert second.name == "second-model" and second.started >= stopped.finished
