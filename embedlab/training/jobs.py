"""Background training for the app: one run at a time per process, progress readable by any session.

``TrainingJobs`` owns a worker thread and the state of the current (and last) run. It makes no Streamlit call:
the app keeps one instance in ``st.cache_resource`` (shared by every session, surviving reruns and page
switches) and polls ``view()`` from a fragment. The CPU is the limit, so a second request while a run is
active is refused with a message naming what runs (``EmbedLabError``).

Example:
    >>> jobs = TrainingJobs()
    >>> job_id = jobs.submit(TrainRequest(Composition("all-MiniLM-L6-v2"), bundled_data("simcse"),
    ...                                   TrainSettings(max_steps=20), save_to="/tmp/m"))
    >>> jobs.wait(timeout=600).status
    'done'
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
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
    """A consistent copy of one job's state, safe to read from any thread."""

    job_id: int
    status: Status
    request: TrainRequest
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

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass
class _Job:
    job_id: int
    request: TrainRequest
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
    done: threading.Event = field(default_factory=threading.Event)


class TrainingJobs:
    """Runs one training at a time on a worker thread.

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

    def submit(self, request: TrainRequest) -> int:
        """Start a run in the background and return its id.

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
            job = _Job(next(self._ids), request)
            self._job = job
        threading.Thread(target=self._run, args=(job,), name=f"embedlab-train-{job.job_id}", daemon=True).start()
        return job.job_id

    def stop(self, job_id: int | None = None, keep_partial: bool | None = None) -> bool:
        """Ask the active run to stop after its current step. Returns False when there is nothing to stop."""
        with self._lock:
            job = self._job
            if job is None or job.status != ACTIVE or (job_id is not None and job.job_id != job_id):
                return False
            if keep_partial is not None:
                job.request = replace(job.request, keep_partial=keep_partial)
            job.stop.set()
            return True

    def view(self) -> JobView | None:
        """The current or last run, or None before the first one."""
        with self._lock:
            job = self._job
            if job is None:
                return None
            return JobView(
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

    def wait(self, timeout: float | None = None) -> JobView | None:
        """Block until the current run ends (or ``timeout`` seconds pass); return its view."""
        with self._lock:
            job = self._job
        if job is not None:
            job.done.wait(timeout)
        return self.view()

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
