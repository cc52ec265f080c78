"""One stop path for every training method the app offers, the cross-encoder included: a run stopped mid-training
by a stop request that keeps nothing, or by SIGTERM to its worker, ends without its 'after' measurement and
without a saved model; a stopped run whose partial model is kept is measured after, as before.

The runs are real: the one runner in this process, and real worker processes (``python -m embedlab worker``) on a
queue in a temporary models directory, each training the tiny random model from conftest. Every wait is bounded;
every worker is stopped by the test that started it.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from embedlab.models.loading import load_model
from embedlab.models.registry import saved_models
from embedlab.training.compose import Composition
from embedlab.training.data import read_training_file
from embedlab.training.methods import CROSS_METHOD, TRAIN_METHODS, save_function, training_method
from embedlab.training.queue import ADMIN_ENV, JobQueue, TrainRequest
from embedlab.training.run import TrainSettings, run_method
from tests.helpers import wait_for, worker_processes, write

REPO = Path(__file__).resolve().parents[2]
WAIT = 300.0  # seconds: the bound on every wait (a worker imports torch and loads the model first)
LONG = TrainSettings(max_steps=20_000, batch_size=2, learning_rate=1e-3, warmup_ratio=0.0, precision="fp32")
SCORED = "sentence1,sentence2,score\n" + "".join(
    f"Sentence {i} is about topic {i % 3}.,Sentence {i + 1} is about topic {(i + 1) % 3}.,{(i % 6) * 0.8:.1f}\n"
    for i in range(12)
)
PAIRS = "sentence1,sentence2\n" + "".join(
    f"Sentence {i} is about topic {i % 3}.,Another sentence {i} is on topic {i % 3}.\n" for i in range(12)
)
SENTENCES = "\n".join(f"Sentence number {i} talks about topic {i % 3} at some length." for i in range(12))


def data_for(method: str, folder: Path):
    """A few rows of the data kind ``method`` reads (a cross-encoder reads scored pairs, as cosine does)."""
    if method in ("cosine", "cosent", CROSS_METHOD):
        return read_training_file(write(folder, "scored.csv", SCORED), "cosine" if method == CROSS_METHOD else method)
    if method in ("mnrl", "pitfall-random-labels"):
        return read_training_file(write(folder, "pairs.csv", PAIRS), method)
    return read_training_file(write(folder, "sentences.txt", SENTENCES), method)


def test_the_methods_are_every_method_the_page_and_the_command_offer():
    from components.train import train_form
    from embedlab import cli

    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    (offered,) = [action.choices for action in train._actions if action.dest == "method"]
    assert set(TRAIN_METHODS) == set(offered) == set(train_form.PAGE_METHODS)
    assert CROSS_METHOD in TRAIN_METHODS and len(TRAIN_METHODS) == 7


# ---------------------------------------------------------------- the runner in this process


@pytest.mark.parametrize("kept", [False, True], ids=["nothing-kept", "partial-kept"])
@pytest.mark.parametrize("method_name", TRAIN_METHODS)
def test_a_stop_ends_every_method_after_its_step_and_measures_after_only_a_kept_model(
    method_name, kept, tiny_model_dir, tmp_path
):
    composition = Composition(str(tiny_model_dir))
    method = training_method(method_name, composition, data_for(method_name, tmp_path), load=load_model)
    measured = []
    original = method.measure

    def counted(model, eval_pairs):
        measured.append(model)
        return original(model, eval_pairs)

    method.measure = counted
    stop = threading.Event()
    steps = []

    def progress(report):
        steps.append(report.step)
        if report.step >= 1:
            stop.set()

    result = run_method(method, LONG, progress=progress, stop=stop, keep=lambda: kept)
    assert result.stopped and 1 <= result.steps < LONG.max_steps and steps[-1] == result.steps
    assert result.method == method_name and result.before is not None
    if kept:
        assert len(measured) == 2 and result.after is not None and result.model is measured[1]
        assert (save_function(method_name)(result, tmp_path / "kept") / "training.json").is_file()
    else:
        assert len(measured) == 1 and result.after is None and result.model is None  # no 'after', nothing to save


# ---------------------------------------------------------------- real workers


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(folder))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    monkeypatch.delenv(ADMIN_ENV, raising=False)
    return folder


@pytest.fixture
def worker(models, tmp_path):
    """start() -> a worker process on the test's queue (log in tmp_path); every one is ended afterwards."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.update(EMBEDLAB_MODELS_DIR=str(models), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.pop(ADMIN_ENV, None)
    with worker_processes(tmp_path, WAIT) as start:
        yield lambda: start(env)


def queue_run(jobs: JobQueue, method: str, tiny_model_dir: Path, models: Path, folder: Path) -> str:
    """Queue a long run of ``method``, owned by a session of its own (``method``: a session may queue only a few)."""
    data = data_for(method, folder)
    request = TrainRequest(
        Composition(str(tiny_model_dir)), data, LONG, save_to=str(models / method), cross=method == CROSS_METHOD
    )
    return jobs.submit(request, owner=method)


def stepping(jobs: JobQueue, job_id: str, owner: str):
    view = jobs.view(job_id, owner)
    return view if view is not None and view.state == "running" and view.latest and view.latest.step >= 1 else None


def ended(jobs: JobQueue, job_id: str, owner: str):
    view = jobs.view(job_id, owner)
    return view if view is not None and not view.active else None


def test_a_stop_request_that_keeps_nothing_ends_every_method_without_after_or_model(
    tiny_model_dir, models, worker, tmp_path
):
    """One worker trains one run of each method in turn; each is stopped by its owner, keeping nothing."""
    jobs = JobQueue()
    runs = {}
    for method in TRAIN_METHODS:
        folder = tmp_path / method
        folder.mkdir()
        runs[method] = queue_run(jobs, method, tiny_model_dir, models, folder)
    process = worker()
    for method, job in runs.items():
        wait_for(lambda job=job, method=method: stepping(jobs, job, method), f"the {method} run to train", WAIT)
        assert jobs.stop(job, owner=method, keep_partial=False)
        view = wait_for(lambda job=job, method=method: ended(jobs, job, method), f"the {method} run to stop", WAIT)
        assert view.state == "stopped" and view.method == method and 1 <= view.steps < LONG.max_steps, view.message
        assert view.before is not None and view.after is None, method  # measured before, never after
        assert view.saved_to is None and "nothing saved" in view.message and not (models / method).exists()
    assert saved_models(models) == ()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT) == 0


@pytest.mark.parametrize("method", TRAIN_METHODS)
def test_sigterm_to_the_worker_ends_every_method_without_after_or_model(
    method, tiny_model_dir, models, worker, tmp_path
):
    jobs = JobQueue()
    job = queue_run(jobs, method, tiny_model_dir, models, tmp_path)
    process = worker()
    wait_for(lambda: stepping(jobs, job, method), f"the {method} run to train", WAIT)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT) == 0
    view = jobs.view(job, method)
    assert view.state == "interrupted" and "nothing saved" in view.message, view.message
    assert view.before is not None and view.after is None  # the worker ended without the 'after' measurement
    assert view.saved_to is None and not (models / method).exists() and saved_models(models) == ()
