"""Background training for the app: one run at a time per process, each run controlled by the session that
started it.

``TrainingJobs`` holds a single run, the current or the last one (there is no queue and no history: a second
request while a run is active is refused with a message naming what runs, ``EmbedLabError``; the CPU is the
limit). It owns the worker thread and makes no Streamlit call: the app keeps one instance in ``st.cache_resource``
(shared by every session, surviving reruns and page switches) and polls ``view(owner)`` from a fragment.

Each run records an owner token, an opaque id the starting session passes (the app: a uuid kept in its session
state). Only that owner can stop it (``stop`` refuses anyone else), and only the owner's ``view`` carries the
run's data source, error, results and saved folder; any other caller sees that a run is in progress and its
progress, nothing else.

When a process that trains is asked to end (SIGTERM, or a normal exit such as ``streamlit run`` stopping on
SIGTERM), the active run is stopped first and waited for, up to ``SHUTDOWN_WAIT`` seconds: the worker thread is
never left inside torch while the interpreter shuts down (that aborted the process with "terminate called without
an active exception"). The partial model is saved, unmeasured, if its owner asked for that. The hooks
(``_install_process_hooks``), installed by the first ``submit``: an ``atexit`` function always, and, when submit runs
on the main thread and SIGTERM still has its default action, a SIGTERM handler that stops and waits, then ends the
process by the default action (exit status -15 from Python's ``subprocess``, 143 in a shell). A server with its own
SIGTERM handler (Streamlit) keeps it, and its exit status: the ``atexit`` function stops the run.

Example:
    >>> jobs = TrainingJobs()
    >>> job_id = jobs.submit(TrainRequest(Composition("all-MiniLM-L6-v2"), bundled_data("simcse"),
    ...                                   TrainSettings(max_steps=20), save_to="/tmp/m"), owner="session-1")
    >>> jobs.wait(timeout=600).status
    'done'
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from embedlab import served
from embedlab.errors import EmbedLabError
from embedlab.training.compose import Composition
from embedlab.training.data import TrainingData
from embedlab.training.run import ProgressReport, Scores, TrainSettings, count_steps, train

Status = Literal["running", "done", "stopped", "failed"]
ACTIVE = "running"
SHUTDOWN_WAIT = 30.0  # seconds a process that is ending waits for its run to stop (and save a partial model)
_RUNNERS: weakref.WeakSet = weakref.WeakSet()  # every TrainingJobs of this process that has started a run
_HOOKS = {"installed": False}


def stop_all_runs(timeout: float = SHUTDOWN_WAIT) -> None:
    """Ask every active run of this process to stop, and wait for them, ``timeout`` seconds in all."""
    jobs = [job for runner in list(_RUNNERS) if (job := runner._stop_for_shutdown()) is not None]
    deadline = time.monotonic() + timeout
    for job in jobs:
        job.done.wait(max(0.0, deadline - time.monotonic()))


def _on_sigterm(signum, frame) -> None:
    stop_all_runs()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # the default action now: the exit status still says SIGTERM


def _install_process_hooks() -> None:
    """Once per process: stop runs at exit; on SIGTERM too, when SIGTERM has its default action (see the module)."""
    if _HOOKS["installed"]:
        return
    _HOOKS["installed"] = True
    atexit.register(stop_all_runs)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


@dataclass(frozen=True)
class TrainRequest:
    """Everything one run needs. ``save_to``: the folder to save into (see ``embedlab.training.save``)."""

    composition: Composition
    data: TrainingData
    settings: TrainSettings
    save_to: str
    eval_pairs: object = None  # a ScoredPairs, or None
    keep_partial: bool = True  # save the model when stopped early
    label: str = ""  # who asked, in words (shown to the others)


@dataclass(frozen=True)
class JobView:
    """A consistent copy of one job's state, safe to read from any thread.

    ``mine`` is False for a caller that did not start the run: then ``request`` is None and the data, losses,
    scores, error and saved folder are left out (``redacted``); the status, phase and step counts remain.
    """

    job_id: int
    status: Status
    request: TrainRequest | None
    started: float
    finished: float | None
    latest: ProgressReport | None
    losses: tuple[tuple[int, float], ...]
    evals: tuple[tuple[int, float | None], ...]
    phase: str  # what the run is doing, in words
    before: Scores | None = None
    after: Scores | None = None
    steps: int = 0
    seconds: float = 0.0
    saved_to: str | None = None
    error: str | None = None
    stopping: bool = False  # Stop was asked and the run has not ended: it ends its step, is measured, saved
    mine: bool = True

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def redacted(self) -> JobView:
        """What another session may see of this run: that it exists, its status and how far it got."""
        return replace(
            self, request=None, losses=(), evals=(), before=None, after=None, saved_to=None, error=None, mine=False
        )


@dataclass
class _Job:
    job_id: int
    request: TrainRequest
    owner: str = ""
    started: float = field(default_factory=time.time)
    status: Status = ACTIVE
    finished: float | None = None
    latest: ProgressReport | None = None
    losses: list = field(default_factory=list)
    evals: list = field(default_factory=list)
    phase: str = "loading the start model"
    before: Scores | None = None
    after: Scores | None = None
    steps: int = 0
    seconds: float = 0.0
    saved_to: str | None = None
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    ending: threading.Event = field(default_factory=threading.Event)  # the process is ending: stop and save fast
    done: threading.Event = field(default_factory=threading.Event)


class TrainingJobs:
    """Runs one training at a time on a worker thread, and remembers the last run (one slot, no queue).

    Args:
        load: ``ref -> LoadedModel`` (the app passes its cached loader so the start model is not loaded twice).
        save: ``(TrainResult, folder) -> Path`` (default ``embedlab.training.save.save_trained``).
    """

    def __init__(self, load: Callable | None = None, save: Callable | None = None) -> None:
        from embedlab.models.loading import load_model
        from embedlab.training.save import save_trained

        self._load = load or load_model
        self._save = save or save_trained
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._job: _Job | None = None  # the current or last run

    def submit(self, request: TrainRequest, owner: str = "") -> int:
        """Start a run in the background for ``owner`` (the token that may stop and read it) and return its id.

        Raises:
            EmbedLabError: a run is already active (one at a time: the CPU is the limit), the target folder
                is taken, or (served mode) the run takes more than ``served.MAX_TRAIN_STEPS`` steps.
        """
        served.check_steps(count_steps(request.data.n_examples, request.settings))
        target = Path(request.save_to).expanduser()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise EmbedLabError(f"{target} already exists and is not empty: choose another model name.")
        with self._lock:
            if self._job is not None and self._job.status == ACTIVE:
                running = self._job.request
                who = f" for {running.label}" if running.label else ""
                raise EmbedLabError(
                    f"A training run is already in progress{who} ({running.data.method} on "
                    f"{running.composition.model}): one run at a time on this server. Wait for it to finish "
                    "or stop it."
                )
            job = _Job(next(self._ids), request, owner=owner)
            self._job = job
        _RUNNERS.add(self)
        _install_process_hooks()
        threading.Thread(target=self._run, args=(job,), name=f"embedlab-train-{job.job_id}", daemon=True).start()
        return job.job_id

    def stop(self, job_id: int | None = None, owner: str = "", keep_partial: bool | None = None) -> bool:
        """Ask the active run to stop after its current step. Returns False when there is nothing to stop.

        Raises:
            EmbedLabError: the run was started by another owner (only the session that started a run stops it,
                and only it decides whether the partial model is kept).
        """
        with self._lock:
            job = self._job
            if job is None or job.status != ACTIVE or (job_id is not None and job.job_id != job_id):
                return False
            if job.owner != owner:
                raise EmbedLabError(
                    "This run was started by another session: only that session can stop it. It ends by itself "
                    "when its steps are done."
                )
            if keep_partial is not None:
                job.request = replace(job.request, keep_partial=keep_partial)
            job.stop.set()
            return True

    def view(self, owner: str = "") -> JobView | None:
        """The current or last run, or None before the first one; redacted (``JobView.redacted``) unless
        ``owner`` started it."""
        with self._lock:
            job = self._job
            if job is None:
                return None
            view = JobView(
                job_id=job.job_id,
                status=job.status,
                request=job.request,
                started=job.started,
                finished=job.finished,
                latest=job.latest,
                losses=tuple(job.losses),
                evals=tuple(job.evals),
                phase=job.phase,
                before=job.before,
                after=job.after,
                steps=job.steps,
                seconds=job.seconds,
                saved_to=job.saved_to,
                error=job.error,
                stopping=job.stop.is_set() and job.status == ACTIVE,
            )
            return view if job.owner == owner else view.redacted()

    def wait(self, timeout: float | None = None, owner: str = "") -> JobView | None:
        """Block until the current run ends (or ``timeout`` seconds pass); return its view for ``owner``."""
        with self._lock:
            job = self._job
        if job is not None:
            job.done.wait(timeout)
        return self.view(owner)

    def _stop_for_shutdown(self) -> _Job | None:
        """The process is ending: stop the active run as its owner would (the partial model is saved if the owner
        asked for that); return it to wait for, or None."""
        with self._lock:
            job = self._job
            if job is None or job.status != ACTIVE:
                return None
            job.ending.set()
            job.stop.set()
            return job

    # ---------------------------------------------------------------- worker

    def _set(self, job: _Job, **values) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(job, name, value)

    def _progress(self, job: _Job, report: ProgressReport) -> None:
        with self._lock:
            job.latest = report
            job.phase = "measuring the trained model" if report.step >= report.total else "training"
            if report.loss is not None:
                job.losses.append((report.step, report.loss))
            if report.eval_spearman is not None:
                job.evals.append((report.step, report.eval_spearman))

    def _run(self, job: _Job) -> None:
        request = job.request
        try:
            loaded = self._load(request.composition.model)
            self._set(job, phase="measuring the model before training")
            result = train(
                request.composition,
                request.data,
                request.settings,
                loaded=loaded,
                eval_pairs=request.eval_pairs,
                progress=lambda report: self._progress(job, report),
                stop=job.stop,
                ending=job.ending,
            )
            stopped = job.stop.is_set() and result.steps < result.total_steps
            self._set(job, before=result.before, after=result.after, steps=result.steps, seconds=result.seconds)
            saved = None
            if not stopped or job.request.keep_partial:
                self._set(job, phase="saving")
                saved = str(self._save(result, request.save_to))
            result.model = None  # the saved folder is the model now; free the memory
            self._set(job, status="stopped" if stopped else "done", saved_to=saved, phase="finished")
        except EmbedLabError as error:
            self._set(job, status="failed", error=str(error), phase="failed")
        except Exception as error:  # noqa: BLE001 - a worker thread must report, never die silently
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            self._set(job, status="failed", error=f"Training failed: {first}", phase="failed")
            traceback.print_exc()
        finally:
            self._set(job, finished=time.time())
            job.done.set()
