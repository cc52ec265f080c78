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
from embedlab.training.queue import ADMIN_ENV
from embedlab.training.queue.spawn import started_workers
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
    assert len(started_workers()) == 1  # a worker was alive (its heartbeat): the second run started none
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


@pytest.mark.parametrize("served", [False, True], ids=["local", "served"])
def test_a_queue_that_cannot_be_read_is_said_on_the_page_and_start_is_off(queue_dir, monkeypatch, served):
    """A queue file that is not a database: the page says so (with the file locally, without any server path in
    served mode) instead of showing an empty queue, and nothing can be queued."""
    database = queue_dir / ".queue" / "queue.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"not a database, some text a careless copy left here\n" * 40)
    if served:
        monkeypatch.setenv("EMBEDLAB_SERVED", "1")
    at = ok(page_test("train").run())
    (said,) = [error.value for error in at.error if "training queue" in error.value]
    assert "cannot be read" in said
    if served:
        assert str(queue_dir) not in said and "/" not in said
    else:
        assert str(database) in said
    assert not any("No training has run" in info.value for info in at.info)  # not shown as an empty queue
    assert all(button.disabled for button in at.button if button.key == train_run.START_BUTTON)


def test_in_served_mode_a_full_queue_turns_start_off_with_the_reason(queue_dir, monkeypatch, tiny_model_dir):
    """Another browser's runs fill the whole queue (``EMBEDLAB_MAX_QUEUE_SIZE``): this one, with no run of its own,
    cannot queue, and is told why."""
    monkeypatch.setenv("EMBEDLAB_AUTO_WORKER", "0")
    monkeypatch.setenv("EMBEDLAB_MAX_QUEUE_SIZE", "1")
    at = session(tiny_model_dir)
    queue_small_run(at, "first-model", 2, batch=2)  # another browser (an AppTest session keeps no cookie)
    monkeypatch.setenv("EMBEDLAB_SERVED", "1")
    other = ok(page_test("train").run())
    assert other.button(key=train_run.START_BUTTON).disabled
    (said,) = [warning.value for warning in other.warning if "queue is full" in warning.value]
    assert "1 runs are queued or running" in said


def test_a_run_whose_worker_was_killed_shows_when_it_ended(tiny_model_dir, queue_dir, monkeypatch, tmp_path):
    """A real worker takes the run off the queue and is killed (SIGKILL) before it trains it: the page lists the
    run interrupted, with the time it ended (when the loss was seen), not a blank."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    monkeypatch.setenv("EMBEDLAB_AUTO_WORKER", "0")  # only the test's worker takes the run
    at = session(tiny_model_dir)
    queue_small_run(at, "killed-model", 2, batch=2)
    repo = Path(__file__).resolve().parents[2]
    taken = tmp_path / "taken"
    env = dict(os.environ, PYTHONPATH=str(repo), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    worker = subprocess.Popen(
        [sys.executable, str(repo / "tests" / "core" / "paused_worker.py"), str(taken)],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(taken.is_file, "the worker to take the run off the queue", WAIT)
    finally:
        worker.kill()
        worker.wait(timeout=WAIT)
    killed_at = time.time()
    ok(at.run())
    row = queue_rows(at)["killed-model"]
    assert row["state"] == "interrupted" and "nothing was trained" in row["progress"]
    (view,) = train_queue.job_queue().views()
    assert killed_at <= view.finished <= time.time()  # when the loss was seen
    assert row["ended"] == time.strftime("%H:%M:%S", time.localtime(view.finished))
