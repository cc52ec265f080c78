"""The queue as its users see it (``JobQueue``): queue a run, stop or cancel one, list every run with its state.

A run's state as shown is its record's, corrected by what the reader knows: a "queued" run with a stop request is
cancelled; a "running" run whose worker stopped heartbeating (a dead process on this host, or no heartbeat for
``STALE_S`` seconds) is interrupted; a "queued" run taken off the queue by a worker that died before marking it
running is interrupted too ("nothing was trained"; see ``_lost``). A run found interrupted so is written back so,
with the time the loss was seen as its finish time, so every reader shows the same finish time afterwards.

Limits: a browser (a session without a browser key) may have ``max_queued`` runs queued or running; in served mode
the whole queue holds at most ``max_queue_size``.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import replace
from pathlib import Path

from embedlab import served
from embedlab.corpus.mapping import check_map, map_path
from embedlab.corpus.store import corpora_dir
from embedlab.errors import EmbedLabError
from embedlab.settings import get_settings
from embedlab.training.folders import is_taken
from embedlab.training.queue.admin import token_hash
from embedlab.training.queue.records import (
    CORPUS_METHODS,
    ENCODE_METHOD,
    MAP_METHOD,
    STALE_S,
    EncodeRequest,
    JobRecord,
    JobView,
    MapRequest,
    StopRequest,
    TrainRequest,
    WorkerEntry,
)
from embedlab.training.queue.storage import Snapshot, Store
from embedlab.training.run import count_steps

LOST_MESSAGE = "its worker stopped as it took the run from the queue: nothing was trained"
MAX_FINISHED_RECORDS = 200  # older ended runs' records are dropped when a run is queued

__all__ = ["STALE_S", "JobQueue", "queue_full_message"]


def queue_full_message(active: int) -> str:
    return (
        f"The training queue is full: {active} runs are queued or running, the most this server takes. Try again "
        "when one has finished."
    )


class JobQueue:
    """The queue, the job records and the worker registry of one models directory (or of ``EMBEDLAB_QUEUE``).

    Args:
        location: a ``redis://`` URL or a SQLite file path; default the ``queue`` setting, else
            ``<models_dir>/.queue/queue.db``.
        publish_admin: store a hash of this process's admin token in the queue (the app and the workers do; the
            command line's ``jobs stop`` only compares with it).

    Raises:
        QueueUnreadable: the queue's file is not a database (so does every method that reads it).
    """

    def __init__(self, location: str | None = None, publish_admin: bool = False) -> None:
        settings = get_settings()
        self.store = Store(settings.queue if location is None else location)
        self.location = self.store.location
        self.folder = self.store.folder
        admin = settings.admin_token.get_secret_value() if settings.admin_token else ""
        if admin and publish_admin:  # the command line's `jobs stop` checks its token against this
            self.store.put_admin_hash(token_hash(admin))

    @property
    def huey(self):
        return self.store.huey

    def record(self, job_id: str) -> JobRecord | None:
        return self.store.record(job_id)

    def stored_admin_hash(self) -> str | None:
        return self.store.admin_hash()

    def eval_pairs(self, job_id: str):
        """The evaluation pairs a run was queued with (a ScoredPairs), or None."""
        return self.store.eval_pairs(job_id)

    # ---------------------------------------------------------------- queueing

    def submit(self, request: TrainRequest, owner: str, label: str = "", browser: str = "") -> str:
        """Queue a run for ``owner`` (the token that may stop it and read its details) and return its id.
        ``browser``: the key of the browser that asked (its runs count towards one cap whatever its sessions);
        empty: the owner is its own browser (the command line, a browser that keeps no cookie).

        Raises:
            EmbedLabError: the name is taken (a folder, or a queued or running run), the browser already has
                ``max_queued`` runs queued or running, (served mode) the queue holds ``max_queue_size`` runs, or
                the run is over the step limit.
        """
        served.check_steps(count_steps(request.data.n_examples, request.settings))
        if is_taken(request.save_to):
            raise EmbedLabError(
                f"A model named {request.name!r} already exists ({request.save_to}): choose another name."
            )
        snapshot = self.store.snapshot()
        views = self._views(snapshot)
        folder = str(Path(request.save_to).expanduser().resolve())
        for view in views:
            if view.active and view.save_to == folder:
                raise EmbedLabError(
                    f"The name {request.name!r} is taken by a run that is {view.state}: choose another name."
                )
        browser_hash = self._admit(views, owner, browser)
        job_id = secrets.token_hex(4)
        owner_hash = token_hash(owner)
        # The task first, then its record: a "queued" record always has its task enqueued (or taken by a worker that
        # claimed it), which is how a view tells a run lost by a dying worker (see the module docstring).
        self.store.enqueue(job_id, replace(request, save_to=folder))
        self.store.put_record(
            JobRecord(
                id=job_id,
                seq=time.time_ns(),
                name=request.name,
                method=request.method_label,
                model=request.composition.model,
                source=request.data.source,
                composition=request.composition,
                seed=int(request.settings.seed),
                save_to=folder,
                planned_steps=count_steps(request.data.n_examples, request.settings),
                owner_hash=owner_hash,
                browser_hash=browser_hash,
                owner_label=label or f"session {owner_hash[:6]}",
                created=time.time(),
            )
        )
        if request.eval_pairs is not None:  # for measuring another model beside the run afterwards, the same way
            self.store.put_eval_pairs(job_id, request.eval_pairs)
        self._prune(snapshot)
        return job_id

    def _admit(self, views: list[JobView], owner: str, browser: str) -> str:
        """The hash of the asking browser, once the queue's bounds admit one more job from it.

        Raises:
            EmbedLabError: (served mode) the queue is full, or the browser has ``max_queued`` jobs active.
        """
        settings = get_settings()
        active = [view for view in views if view.active]
        if settings.served and len(active) >= settings.max_queue_size:
            raise EmbedLabError(queue_full_message(len(active)))
        browser_hash = token_hash(browser or owner)
        mine = [view for view in active if view.browser_hash == browser_hash]
        if len(mine) >= settings.max_queued:
            raise EmbedLabError(
                f"You have {len(mine)} runs queued or running, the most one browser may have ({settings.max_queued}):"
                " wait for one to finish, or cancel one."
            )
        return browser_hash

    def submit_encode(self, request: EncodeRequest, owner: str, label: str = "", browser: str = "") -> str:
        """Queue a corpus to encode and return the job's id; when a job for the same corpus (same model revision,
        same texts: same key) is queued or running already, return that job's id instead: two tabs asking for one
        corpus share one job (its owner stays the first asker). A corpus whose earlier job stopped or was
        interrupted gets a new job, which encodes only the chunks still missing.

        Raises:
            EmbedLabError: the queue's bounds (as ``submit``).
        """
        folder = str(corpora_dir().resolve() / request.key)  # this side's path of it: what a view shows
        return self._submit_shared(request, request.model, folder, request.n_chunks, owner, label, browser)

    def submit_map(self, request: MapRequest, owner: str, label: str = "", browser: str = "") -> str:
        """Queue the 2-D map of an encoded corpus and return the job's id; shared as ``submit_encode`` is: a job
        for the same corpus, projection and seed already queued or running is returned instead. The map is the
        file the job writes (``map_path``): a page that finds it draws it and queues nothing.

        Raises:
            EmbedLabError: a map ``corpus_map`` would refuse (``check_map``), or the queue's bounds.
        """
        check_map(request.projection, request.n_texts)
        kept = str(map_path(corpora_dir().resolve() / request.key, request.projection, request.seed))
        return self._submit_shared(request, request.model, kept, request.n_texts, owner, label, browser)

    def _submit_shared(
        self,
        request: EncodeRequest | MapRequest,
        model: str,
        save_to: str,
        planned_steps: int,
        owner: str,
        label: str,
        browser: str,
    ) -> str:
        """Queue a job on a stored corpus, one per (kind, ``save_to``): the active one's id when there is one."""
        snapshot = self.store.snapshot()
        views = self._views(snapshot)
        for view in views:
            if view.active and view.method == request.method and view.save_to == save_to:
                return view.job_id
        browser_hash = self._admit(views, owner, browser)
        job_id = secrets.token_hex(4)
        owner_hash = token_hash(owner)
        self.store.enqueue(job_id, request)  # the task first, then its record (see submit)
        self.store.put_record(
            JobRecord(
                id=job_id,
                seq=time.time_ns(),
                name=request.name,
                method=request.method,
                model=model,
                source=request.source,
                save_to=save_to,
                planned_steps=planned_steps,
                owner_hash=owner_hash,
                browser_hash=browser_hash,
                owner_label=label or f"session {owner_hash[:6]}",
                created=time.time(),
            )
        )
        self._prune(snapshot)
        return job_id

    def _prune(self, snapshot: Snapshot) -> None:
        ended = sorted((r for r in snapshot.records.values() if not r.active), key=lambda r: r.seq)
        for old in ended[: max(0, len(ended) - MAX_FINISHED_RECORDS)]:
            self.store.forget(old.id)

    def stop(self, job_id: str, owner: str = "", admin: bool = False, keep_partial: bool = True) -> bool:
        """Stop a running run after its current step, or cancel a queued one. False when it is not active.

        Raises:
            EmbedLabError: the run is not ``owner``'s and ``admin`` is False, or there is no such run.
        """
        record = self.store.record(job_id)
        if record is None:
            raise EmbedLabError(f"No run with id {job_id!r}: `python -m embedlab jobs` lists them.")
        if not admin and not hmac.compare_digest(record.owner_hash, token_hash(owner)):
            raise EmbedLabError(
                "This run was queued by another session: only that session (or the teacher, with the admin token) "
                "can stop it."
            )
        snapshot = self.store.snapshot()
        snapshot.records = {job_id: record}
        view = self._views(snapshot)[0]
        if not view.active:
            return False
        self.store.put_stop(job_id, StopRequest(at=time.time(), admin=admin, keep_partial=keep_partial))
        if record.state == "queued":
            self.store.put_record(
                record.model_copy(
                    update={"state": "stopped", "finished": time.time(), "message": "cancelled before it started"}
                )
            )
        return True

    # ---------------------------------------------------------------- reading

    def views(self, owner: str = "") -> list[JobView]:
        """Every run: active ones in queue order first, then ended ones, newest first. Another owner's runs are
        redacted (the admin too sees them so: stopping needs only the id)."""
        views = self._views(self.store.snapshot())
        owner_hash = token_hash(owner) if owner else None
        shown = [view if view.owner_hash == owner_hash else view.redacted() for view in views]
        active = [view for view in shown if view.active]
        ended = sorted((view for view in shown if not view.active), key=lambda v: v.finished or v.created, reverse=True)
        return active + ended

    def view(self, job_id: str, owner: str = "") -> JobView | None:
        return next((view for view in self.views(owner) if view.job_id == job_id), None)

    def active_counts(self, browser: str) -> tuple[int, int]:
        """(runs queued or running from ``browser``, runs queued or running in the whole queue)."""
        views = [view for view in self._views(self.store.snapshot()) if view.active]
        return sum(1 for view in views if view.browser_hash == token_hash(browser)), len(views)

    def live_workers(self) -> list[WorkerEntry]:
        return self.store.snapshot().live_workers(time.time())

    def _lost(self, snapshot: Snapshot) -> set[str]:
        """Ids of the "queued" runs whose task a worker took off the queue before it died, without marking them
        running: not pending in Huey, and no live worker claiming them. The snapshot is read before the pending
        tasks and the registry again after them, so a worker that was taking one of them is seen."""
        live = snapshot.live_workers(time.time())
        held = {entry.job for entry in live}
        suspects = {
            job_id
            for job_id, record in snapshot.records.items()
            if record.state == "queued" and job_id not in snapshot.stops
        } - held
        if not suspects or any(entry.claiming for entry in live):
            return set()  # nothing to check, or a worker is taking a run right now: look again at the next view
        pending = self.store.pending_ids()
        if pending is None:  # a task this version cannot read: count nothing as lost
            return set()
        missing = suspects - pending
        if not missing:
            return set()
        again = self.store.snapshot()
        live = again.live_workers(time.time())
        if any(entry.claiming for entry in live):
            return set()
        held = {entry.job for entry in live}
        return {
            job_id
            for job_id in missing - held
            if job_id in again.records and again.records[job_id].state == "queued" and job_id not in again.stops
        }

    def _interrupted(self, record: JobRecord, message: str) -> JobRecord:
        """Record a run whose worker is gone as interrupted, finished now (when the loss was seen)."""
        ended = record.model_copy(update={"state": "interrupted", "finished": time.time(), "message": message})
        self.store.put_record(ended)
        return ended

    def _views(self, snapshot: Snapshot) -> list[JobView]:
        lost = self._lost(snapshot)
        now = time.time()
        records = sorted(snapshot.records.values(), key=lambda r: r.seq)
        per_step, overhead = _measured_pace(records)
        workers = max(1, len(snapshot.live_workers(now)))
        views: list[JobView] = []
        busy: list[float] = []  # seconds left of each run ahead (running or queued)
        position = 0
        for record in records:
            stop = snapshot.stops.get(record.id)
            latest = record.progress
            state, message = record.state, record.message
            if state == "queued" and stop is not None:
                state, message = "stopped", "cancelled before it started"
            if state == "queued" and record.id in lost:
                record = self._interrupted(record, LOST_MESSAGE)
                state, message = record.state, record.message
            if state == "running" and (record.worker is None or record.worker.gone(now)):
                where = f" at step {latest.step} of {latest.total}" if latest is not None and latest.step else ""
                lost_part = ": nothing was saved"
                if record.method == ENCODE_METHOD:  # its finished chunks are on disk: asking again resumes there
                    where = f" after chunk {latest.step} of {latest.total}" if latest is not None else ""
                    lost_part = ": the chunks done are kept, ask again to resume"
                elif record.method == MAP_METHOD:
                    where = " while fitting the map"
                    lost_part = ": nothing was kept, ask again to fit it"
                record = self._interrupted(record, f"its worker stopped{where}{lost_part}")
                state, message = record.state, record.message
            estimate = None
            if per_step is not None and record.method not in CORPUS_METHODS:  # the pace is of training steps
                estimate = overhead + per_step * record.planned_steps
            starts_in = None
            if state == "running":
                left = latest.eta_seconds if latest is not None and latest.eta_seconds is not None else estimate
                busy.append(float(left or 0.0) + (overhead / 2 if per_step is not None else 0.0))
            elif state == "queued":
                position += 1
                if per_step is not None:
                    starts_in = sum(busy) / workers if len(busy) >= workers else 0.0
                busy.append(float(estimate or 0.0))
            views.append(
                JobView(
                    job_id=record.id,
                    name=record.name,
                    method=record.method,
                    state=state,
                    created=record.created,
                    position=position if state == "queued" else None,
                    starts_in=starts_in,
                    started=record.started,
                    finished=record.finished,
                    latest=latest,
                    phase=record.phase,
                    owner_label=record.owner_label,
                    message=message,
                    worker=record.worker.text if record.worker else "",
                    stopping=state == "running" and stop is not None,
                    source=record.source,
                    composition=record.composition,
                    seed=record.seed,
                    save_to=record.save_to,
                    saved_to=record.saved_to,
                    before=record.before,
                    after=record.after,
                    losses=tuple(tuple(point) for point in record.losses),
                    evals=tuple(tuple(point) for point in record.evals),
                    steps=record.steps,
                    seconds=record.seconds,
                    owner_hash=record.owner_hash,
                    browser_hash=record.browser_hash,
                )
            )
        return views


def _measured_pace(records: list[JobRecord]) -> tuple[float | None, float]:
    """(seconds per training step, seconds of a run outside its steps: loading, measuring, saving) measured over
    the finished runs; (None, 0) before any run has finished."""
    done = [
        r
        for r in records
        if r.state == "finished" and r.steps and r.started and r.finished and r.method not in CORPUS_METHODS
    ]
    if not done:
        return None, 0.0
    per_step = sum(r.seconds for r in done) / sum(r.steps for r in done)
    overhead = sum(max(0.0, r.finished - r.started - r.seconds) for r in done) / len(done)
    return per_step, overhead
