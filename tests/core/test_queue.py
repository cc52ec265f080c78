"""Training runs as queued jobs, trained by real worker processes (``python -m embedlab worker``).

Every worker here is a real subprocess on the test's own queue (a SQLite file in a temporary models directory) and
trains a tiny random model: two runs in order, owners and the admin stopping runs, a worker killed (SIGKILL) or
stopped (SIGTERM) mid-run, a worker killed just after it took a run off the queue (before it recorded it), and a run
queued by a process that has ended, trained by a worker started afterwards.
Every wait is bounded; every worker is stopped by the test that started it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedlab.errors import EmbedLabError
from embedlab.models.registry import saved_models
from embedlab.training.compose import Composition
from embedlab.training.data import read_training_file
from embedlab.training.queue import (
    ADMIN_ENV,
    AUTO_WORKER_ENV,
    HOST,
    STALE_S,
    WORKER_NICE,
    JobQueue,
    TrainRequest,
    ensure_worker,
)
from embedlab.training.queue.records import WorkerEntry
from embedlab.training.run import TrainSettings
from tests.helpers import wait_for, worker_processes, write
from tools.offline import offline_environment

REPO = Path(__file__).resolve().parents[2]
SENTENCES = "\n".join(f"Sentence number {i} talks about topic {i % 3} at some length." for i in range(12))
WAIT = 300.0  # seconds: the bound on every wait (a worker imports torch and loads the model first)
ADMIN = "teacher-secret-0123"
LONG = TrainSettings(max_steps=20_000, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0)
SHORT = TrainSettings(max_steps=2, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0)


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(folder))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    monkeypatch.delenv(ADMIN_ENV, raising=False)
    return folder


@pytest.fixture
def data(tmp_path):
    return read_training_file(write(tmp_path, "sentences.txt", SENTENCES), "simcse", 0)


def child_env(models: Path, **extra: str) -> dict:
    env = offline_environment()
    env.update(EMBEDLAB_MODELS_DIR=str(models), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **extra)
    env.pop(ADMIN_ENV, None)
    env.update(extra)
    return env


@pytest.fixture
def workers(models, tmp_path):
    """start(**env) -> a worker process on the test's queue (log in tmp_path); every one is ended afterwards."""
    with worker_processes(tmp_path, WAIT) as start:
        yield lambda *command, **extra: start(child_env(models, **extra), *command)


def request(tiny_model_dir: Path, models: Path, data, name: str, settings: TrainSettings) -> TrainRequest:
    return TrainRequest(Composition(str(tiny_model_dir)), data, settings, save_to=str(models / name))


def stepping(jobs: JobQueue, job_id: str, owner: str = ""):
    view = jobs.view(job_id, owner)
    return view if view is not None and view.state == "running" and view.latest and view.latest.step >= 1 else None


def ended(jobs: JobQueue, job_id: str):
    view = jobs.view(job_id)
    return view if view is not None and not view.active else None


def test_two_runs_train_in_order_and_only_the_owner_or_the_admin_stops_one(tiny_model_dir, models, data, workers):
    jobs = JobQueue()
    first = jobs.submit(request(tiny_model_dir, models, data, "first", LONG), owner="alice")
    second = jobs.submit(request(tiny_model_dir, models, data, "second", SHORT), owner="bob")
    assert [(v.name, v.position) for v in jobs.views("bob")] == [("first", 1), ("second", 2)]
    with pytest.raises(EmbedLabError, match="taken by a run that is queued"):  # taken before it is trained
        jobs.submit(request(tiny_model_dir, models, data, "second", SHORT), owner="carol")

    worker = workers(**{ADMIN_ENV: ADMIN})
    wait_for(lambda: stepping(jobs, first, "alice"), "the first run to train")
    waiting = jobs.view(second, "bob")
    assert waiting.state == "queued" and waiting.position == 1
    seen_by_bob = jobs.view(first, "bob")
    assert not seen_by_bob.mine and seen_by_bob.source == "" and seen_by_bob.latest.step >= 1
    with pytest.raises(EmbedLabError, match="another session"):
        jobs.stop(first, owner="bob")

    refused = run_cli(models, "jobs", "stop", first, **{ADMIN_ENV: "wrong"})
    assert refused.returncode == 2 and "does not match" in refused.stderr
    assert jobs.view(first, "alice").state == "running"
    stopped = run_cli(models, "jobs", "stop", first, **{ADMIN_ENV: ADMIN})
    assert stopped.returncode == 0, stopped.stderr

    first_view = wait_for(lambda: ended(jobs, first), "the first run to stop")
    assert first_view.state == "stopped" and first_view.steps < LONG.max_steps
    assert first_view.saved_to is None and not (models / "first").exists()  # the admin's stop keeps nothing
    second_view = wait_for(lambda: ended(jobs, second), "the second run to finish")
    assert second_view.state == "finished", second_view.message
    assert second_view.started >= first_view.finished  # one at a time, in the order queued
    assert str(models / "second") in saved_models()
    listed = json.loads(run_cli(models, "jobs", "--json").stdout)
    assert {row["name"]: row["state"] for row in listed} == {"first": "stopped", "second": "finished"}
    assert all(row["finished"] and row["created"] for row in listed)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=WAIT) == 0


def test_a_worker_killed_mid_run_leaves_an_interrupted_run_and_no_model(tiny_model_dir, models, data, workers):
    jobs = JobQueue()
    job = jobs.submit(request(tiny_model_dir, models, data, "killed", LONG), owner="alice")
    worker = workers()
    wait_for(lambda: stepping(jobs, job, "alice"), "the run to train")
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(19, mine + WORKER_NICE)  # pages before training
    killed_at = time.time()
    worker.kill()
    worker.wait(timeout=WAIT)
    view = jobs.view(job, "alice")
    assert view.state == "interrupted" and view.latest.step >= 1 and "worker stopped" in view.message
    assert not (models / "killed").exists() and str(models / "killed") not in saved_models()
    assert killed_at <= view.finished <= time.time()  # it ended when its loss was seen...
    assert jobs.view(job, "bob").finished == view.finished  # ...the same for every reader, later too
    (row,) = json.loads(run_cli(models, "jobs", "--json").stdout)
    assert row["state"] == "interrupted" and row["finished"]


def test_a_worker_killed_as_it_takes_a_run_leaves_it_interrupted_and_it_is_never_trained(
    tiny_model_dir, models, data, workers, tmp_path
):
    """The worker dies between ``huey.dequeue()`` and marking the record "running" (a test-only worker script
    holds it there with an injected hook): while it lives the run is queued (its claim), once it is killed the run
    is interrupted, not queued forever, and the next worker trains the run behind it and never this one."""
    jobs = JobQueue()
    lost = jobs.submit(request(tiny_model_dir, models, data, "lost", SHORT), owner="alice")
    later = jobs.submit(request(tiny_model_dir, models, data, "later", SHORT), owner="alice")
    taken = tmp_path / "taken"
    worker = workers(sys.executable, str(REPO / "tests" / "core" / "paused_worker.py"), str(taken))
    wait_for(taken.is_file, "the worker to take the first run off the queue")
    assert taken.read_text() == lost
    assert [task.args[0] for task in jobs.huey.pending()] == [later]  # the task has left the queue
    assert jobs.view(lost, "alice").state == "queued"  # its taker is alive and claiming it
    killed_at = time.time()
    worker.kill()
    worker.wait(timeout=WAIT)
    view = jobs.view(lost, "alice")
    assert view.state == "interrupted" and "nothing was trained" in view.message
    assert killed_at <= view.finished <= time.time()
    assert jobs.view(later, "alice").position == 1
    workers()
    done = wait_for(lambda: ended(jobs, later), "the run behind it to be trained by the next worker")
    assert done.state == "finished", done.message
    assert jobs.view(lost, "alice").state == "interrupted"
    assert not (models / "lost").exists() and str(models / "lost") not in saved_models()


def test_a_run_taken_off_the_queue_stays_queued_while_its_claimer_heartbeats(tiny_model_dir, models, data):
    """The state a taker leaves, with its registry entry written by hand: a claimer with a fresh heartbeat holds
    the run (it is about to mark it running), a stale one does not; a run still pending is never lost."""
    jobs = JobQueue()
    job = jobs.submit(request(tiny_model_dir, models, data, "taken", SHORT), owner="alice")
    claimer = WorkerEntry(id="w1", pid=os.getpid(), host=HOST, heartbeat=time.time(), job=None, claiming=True)
    jobs.store.put_worker(claimer.model_copy(update={"claiming": False}))
    assert jobs.view(job).state == "queued"  # pending in Huey: queued whatever the workers do
    jobs.store.put_worker(claimer)
    assert jobs.huey.dequeue().args[0] == job
    assert jobs.view(job).state == "queued"
    jobs.store.put_worker(claimer.model_copy(update={"heartbeat": time.time() - STALE_S - 1}))
    assert jobs.view(job).state == "interrupted"
    assert jobs.submit(request(tiny_model_dir, models, data, "taken", SHORT), owner="alice")  # its name is free


def test_the_app_starts_no_worker_when_told_not_to(tiny_model_dir, models, data, monkeypatch):
    jobs = JobQueue()
    jobs.submit(request(tiny_model_dir, models, data, "waits", SHORT), owner="alice")
    monkeypatch.setenv(AUTO_WORKER_ENV, "0")
    assert ensure_worker(jobs) is None and jobs.live_workers() == []
    assert jobs.store.starting() == {}  # nothing was launched


def test_sigterm_interrupts_the_run_cleanly_and_the_queued_ones_wait_for_the_next_worker(
    tiny_model_dir, models, data, workers, tmp_path
):
    jobs = JobQueue()
    running = jobs.submit(request(tiny_model_dir, models, data, "running", LONG), owner="alice")
    queued = jobs.submit(request(tiny_model_dir, models, data, "queued", SHORT), owner="alice")
    tsdae = read_training_file(write(tmp_path, "tsdae.txt", SENTENCES), "tsdae", 0)
    bad = TrainRequest(Composition(str(tiny_model_dir), dense_out=8), tsdae, SHORT, save_to=str(models / "bad"))
    failing = jobs.submit(bad, owner="alice")
    worker = workers()
    wait_for(lambda: stepping(jobs, running, "alice"), "the run to train")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=WAIT) == 0
    view = jobs.view(running, "alice")
    assert view.state == "interrupted" and "nothing saved" in view.message
    assert not (models / "running").exists()
    assert jobs.view(queued, "alice").state == "queued"  # the queue outlives its worker
    workers()
    done = wait_for(lambda: ended(jobs, queued), "the queued run to be trained by a new worker")
    assert done.state == "finished" and (models / "queued" / "modules.json").is_file()
    failed = wait_for(lambda: jobs.view(failing, "alice").state == "failed" and jobs.view(failing, "alice"), "a fail")
    assert "Dense" in failed.message  # said to its owner...
    assert jobs.view(failing, "bob").message == ""  # ...and to nobody else


def test_a_run_queued_by_a_process_that_has_ended_is_trained_by_a_worker_started_later(
    tiny_model_dir, models, tmp_path, workers
):
    sentences = write(tmp_path, "sentences.txt", SENTENCES)
    queued = run_cli(
        models,
        "train",
        str(sentences),
        "--model",
        str(tiny_model_dir),
        "--method",
        "simcse",
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--out",
        str(models / "from-cli"),
        "--queue",
    )
    assert queued.returncode == 0, queued.stderr
    job = queued.stdout.strip()
    assert "no worker is running" in queued.stderr
    jobs = JobQueue()
    assert jobs.view(job).state == "queued" and "command line" in jobs.view(job).owner_label
    workers()
    view = wait_for(lambda: ended(jobs, job), "the run to be trained")
    assert view.state == "finished" and str(models / "from-cli") in saved_models()


def test_a_session_may_queue_only_a_few_runs(tiny_model_dir, models, data, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MAX_QUEUED", "2")
    jobs = JobQueue()
    for name in ("a", "b"):
        jobs.submit(request(tiny_model_dir, models, data, name, SHORT), owner="alice")
    with pytest.raises(EmbedLabError, match="most one browser may have"):
        jobs.submit(request(tiny_model_dir, models, data, "c", SHORT), owner="alice")
    jobs.submit(request(tiny_model_dir, models, data, "c", SHORT), owner="bob")  # another session has its own cap
    assert jobs.stop(jobs.views("alice")[0].job_id, owner="alice")  # a cancelled run frees a place
    assert jobs.views("alice")[0].state == "queued"
    jobs.submit(request(tiny_model_dir, models, data, "d", SHORT), owner="alice")


def test_a_browser_may_queue_only_a_few_runs_whatever_its_sessions(tiny_model_dir, models, data, monkeypatch):
    """A reload or a second tab is a new session (owner) of the same browser: the cap counts the browser's runs."""
    monkeypatch.setenv("EMBEDLAB_MAX_QUEUED", "2")
    jobs = JobQueue()
    jobs.submit(request(tiny_model_dir, models, data, "a", SHORT), owner="tab-1", browser="browser-1")
    jobs.submit(request(tiny_model_dir, models, data, "b", SHORT), owner="tab-2", browser="browser-1")
    with pytest.raises(EmbedLabError, match="most one browser may have"):
        jobs.submit(request(tiny_model_dir, models, data, "c", SHORT), owner="tab-3", browser="browser-1")
    assert jobs.active_counts("browser-1") == (2, 2)
    jobs.submit(request(tiny_model_dir, models, data, "c", SHORT), owner="tab-4", browser="browser-2")
    assert jobs.stop(jobs.views("tab-1")[0].job_id, owner="tab-1")  # a cancelled run frees a place
    jobs.submit(request(tiny_model_dir, models, data, "d", SHORT), owner="tab-3", browser="browser-1")
    assert jobs.active_counts("browser-1") == (2, 3)


def test_the_whole_queue_is_bounded_in_served_mode(tiny_model_dir, models, data, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MAX_QUEUE_SIZE", "2")
    jobs = JobQueue()
    for name in ("a", "b"):
        jobs.submit(request(tiny_model_dir, models, data, name, SHORT), owner=name, browser=name)
    jobs.submit(request(tiny_model_dir, models, data, "c", SHORT), owner="c", browser="c")  # not served: no bound
    monkeypatch.setenv("EMBEDLAB_SERVED", "1")
    with pytest.raises(EmbedLabError, match="The training queue is full: 3 runs are queued or running"):
        jobs.submit(request(tiny_model_dir, models, data, "d", SHORT), owner="d", browser="d")
    for view in jobs.views()[:2]:
        jobs.stop(view.job_id, admin=True)
    jobs.submit(request(tiny_model_dir, models, data, "d", SHORT), owner="d", browser="d")


@pytest.mark.parametrize("command", [("jobs",), ("jobs", "--json"), ("worker", "--threads", "1")])
def test_a_queue_file_that_is_not_a_database_is_one_line_naming_it_and_exit_2(models, command):
    database = models / ".queue" / "queue.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"this is not a database, it is some text that a careless copy left here\n" * 20)
    result = run_cli(models, *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(database) in result.stderr and "cannot be read" in result.stderr


def test_a_record_that_does_not_validate_is_skipped_not_half_used(tiny_model_dir, models, data):
    jobs = JobQueue()
    job = jobs.submit(request(tiny_model_dir, models, data, "fine", SHORT), owner="alice")
    jobs.store.storage.put_data("job.broken", b'{"id": "broken", "state": "exploded"}')
    jobs.store.storage.put_data("job.garbage", b"not json")
    assert [view.job_id for view in jobs.views()] == [job]


def test_jobs_stop_without_the_admin_token_exits_2(models):
    result = run_cli(models, "jobs", "stop", "abc")
    assert result.returncode == 2 and ADMIN_ENV in result.stderr


def run_cli(models: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "embedlab", *args],
        cwd=REPO,
        env=child_env(models, **extra),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


def test_a_run_on_another_machine_is_interrupted_once_its_heartbeat_is_older_than_the_bound(
    tiny_model_dir, models, data
):
    from embedlab.training.queue import STALE_S

    jobs = JobQueue()
    job = jobs.submit(request(tiny_model_dir, models, data, "remote", SHORT), owner="alice")
    now = time.time()
    elsewhere = WorkerEntry(id="w1", pid=1, host="another-machine", heartbeat=now)
    running = jobs.record(job).model_copy(update={"state": "running", "started": now, "worker": elsewhere})
    jobs.store.put_record(running)
    assert jobs.view(job).state == "running"  # pid 1 on another host is not looked up: its heartbeat is fresh
    stale = elsewhere.model_copy(update={"heartbeat": now - STALE_S - 1})
    jobs.store.put_record(running.model_copy(update={"worker": stale}))
    assert jobs.view(job).state == "interrupted"
