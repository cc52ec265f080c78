"""A worker (``python -m embedlab worker``): takes queued runs one at a time and trains them in its own process
(or, for a corpus to encode, encodes it: ``EncodeRequest``, ``Worker._encode``; for a corpus's map, fits it:
``MapRequest``, ``Worker._fit_map``).

It trains with ``torch.set_num_threads(threads)`` (default: one core less than the machine has, at least 1: on a
2-core machine the web server keeps a core; see docs/benchmarks.md) at a lower CPU priority (``WORKER_NICE``: when a
page and a training step want the same core, the page wins), writes a heartbeat (``worker.<id>``, and the running
job's record) every ``HEARTBEAT_S`` seconds, and polls the stop key between steps. SIGTERM or Ctrl-C stops its run
after the current step; the run is recorded "interrupted" and nothing is saved. Saving is atomic
(``embedlab.training.save.save_atomically``): a killed worker never leaves a folder a model box would list.

It reads tasks itself (``dequeue``) rather than running Huey's consumer: it takes one task at a time, handles SIGTERM
its own way (the run ends its step; Huey's consumer would stop at once or wait for the whole run) and heartbeats
while it trains.

A run lost between the queue and a worker: taking a task off the queue and marking its record "running" are two
writes, and a worker can die between them. So a worker *claims* before it dequeues: its registry entry says
``claiming`` until the record of the run it took says "running" (the claim is written only when the queue is not
empty). A reader then knows a "queued" run whose task is gone and that no live worker claims was lost
(``JobQueue._lost``). ``submit`` enqueues the task before it writes the record; a worker that takes a task whose
record is not written yet waits for it, up to ``STALE_S``, and drops a task whose submitter died in between.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable

from embedlab.corpus.encode import EncodeProgress, encode_corpus
from embedlab.corpus.mapping import kept_corpus_map
from embedlab.corpus.store import corpora_dir, open_corpus
from embedlab.errors import EmbedLabError
from embedlab.training.queue.jobs import JobQueue
from embedlab.training.queue.records import (
    HEARTBEAT_S,
    HOST,
    STALE_S,
    EncodeRequest,
    JobRecord,
    MapRequest,
    TrainRequest,
    WorkerEntry,
)
from embedlab.training.run import ProgressReport

POLL_S = 0.5  # an idle worker looks for a task this often
WORKER_NICE = 10  # `python -m embedlab worker` lowers its CPU priority by this: pages first, training second
PROGRESS_WRITE_S = 0.5  # a running job's record is rewritten at most this often (and at the end)
MAX_LOSS_POINTS = 2000  # a record keeps at most about this many loss points (thinned by half beyond)


def default_threads() -> int:
    """Torch threads of a worker: one core less than the machine has (the web server keeps one), at least 1."""
    return max(1, (os.cpu_count() or 2) - 1)


class Worker:
    """Takes queued runs one at a time and trains them in this process (see the module docstring).

    Args:
        jobs: the queue.
        threads: torch threads for training (default ``default_threads()``).
        after_dequeue: called with a run's id right after its task left the queue, before its record says
            "running" (tests hold a worker there to kill it); None in production.
        after_chunk: called with an encoding job's id and its chunks done, right after a chunk was written (tests
            hold a worker there to kill it half-way); None in production.
    """

    def __init__(
        self,
        jobs: JobQueue,
        threads: int | None = None,
        after_dequeue: Callable[[str], None] | None = None,
        after_chunk: Callable[[str, int], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.store = jobs.store
        self.threads = threads or default_threads()
        self.after_dequeue = after_dequeue
        self.after_chunk = after_chunk
        self.worker_id = secrets.token_hex(4)
        self.shutdown = threading.Event()  # SIGTERM / Ctrl-C: stop the run after its step, then exit
        self._lock = threading.Lock()
        self._record: JobRecord | None = None  # the running job's record, written under the lock
        self._stop = threading.Event()  # the running job's stop (its owner, the admin, or the shutdown)
        self._last_write = 0.0
        self._models: dict[str, object] = {}
        self._claiming = False  # between taking a task off the queue and its record saying "running"
        self._registry = threading.Lock()  # one writer of this worker's registry entry at a time

    def info(self, job_id: str | None = None) -> WorkerEntry:
        return WorkerEntry(
            id=self.worker_id, pid=os.getpid(), host=HOST, heartbeat=time.time(), job=job_id, claiming=self._claiming
        )

    def _register(self, claiming: bool | None = None) -> None:
        """Write this worker's registry entry (its heartbeat, its run, whether it is claiming one)."""
        with self._registry:
            if claiming is not None:
                self._claiming = claiming
            with self._lock:
                job_id = self._record.id if self._record else None
            self.store.put_worker(self.info(job_id))

    def run(self, until_idle: bool = False) -> int:
        """Train queued runs until ``shutdown`` is set (or, with ``until_idle``, the queue is empty). Returns the
        number of runs taken."""
        import torch

        torch.set_num_threads(self.threads)
        beat = threading.Thread(target=self._heartbeat, name="embedlab-heartbeat", daemon=True)
        self._register()
        beat.start()
        taken = 0
        try:
            while not self.shutdown.is_set():
                if not self.store.pending_count():  # nothing queued: no claim written
                    if until_idle:
                        break
                    self.shutdown.wait(POLL_S)
                    continue
                self._register(claiming=True)  # before the task leaves the queue (see the module docstring)
                task = self.store.dequeue()
                if task is None:  # another worker was quicker
                    self._register(claiming=False)
                    continue
                taken += 1
                job_id, request = task
                if self.after_dequeue is not None:
                    self.after_dequeue(job_id)
                self._run(job_id, request)
        finally:
            self.shutdown.set()
            beat.join(timeout=HEARTBEAT_S * 2)
            self.store.delete_worker(self.worker_id)
        return taken

    def _heartbeat(self) -> None:
        while not self.shutdown.wait(HEARTBEAT_S):
            with self._lock:
                job_id = self._record.id if self._record else None
            self._register()
            if job_id is not None:
                if self.store.stop_request(job_id) is not None:
                    self._stop.set()
                self._write(force=True)

    def _write(self, force: bool = False, **values) -> None:
        with self._lock:
            if self._record is None:
                return
            for name, value in values.items():
                setattr(self._record, name, value)  # validated (validate_assignment)
            now = time.time()
            if not force and now - self._last_write < PROGRESS_WRITE_S:
                return
            self._last_write = now
            self._record.worker = self.info(self._record.id)
            self.store.put_record(self._record.model_copy())

    def _progress(self, report: ProgressReport) -> None:
        with self._lock:
            record = self._record
            if report.loss is not None:
                record.losses.append((report.step, report.loss))
                if len(record.losses) > MAX_LOSS_POINTS:
                    record.losses = record.losses[::2]
            if report.eval_spearman is not None:
                record.evals.append((report.step, report.eval_spearman))
        phase = "measuring the trained model" if report.step >= report.total else "training"
        self._write(force=report.step >= report.total, progress=report, phase=phase)

    def _load(self, ref: str):
        if ref not in self._models:
            from embedlab.models.loading import load_model

            self._models = {ref: load_model(ref)}  # one start model kept between runs
        return self._models[ref]

    def _run(self, job_id: str, request: TrainRequest) -> None:
        record = self.store.record(job_id)
        deadline = time.monotonic() + STALE_S
        while record is None and time.monotonic() < deadline and not self.shutdown.is_set():
            self.shutdown.wait(0.1)  # its submitter enqueues the task, then writes the record
            record = self.store.record(job_id)
        if record is None:
            print(f"dropped run {job_id}: the process that queued it stopped before recording it", file=sys.stderr)
            self._register(claiming=False)
            return
        if self.store.stop_request(job_id) is not None:
            record.state = "stopped"
            record.finished = record.finished or time.time()
            record.message = record.message or "cancelled before it started"
            self.store.put_record(record)
            self._register(claiming=False)
            return
        self._stop = threading.Event()
        record = record.model_copy(
            update={"state": "running", "started": time.time(), "phase": "loading the start model", "message": ""}
        )
        with self._lock:
            self._record = record
        self._write(force=True)
        self._register(claiming=False)  # the record now says who has the run
        try:
            if isinstance(request, EncodeRequest):
                self._encode(request)
                return
            if isinstance(request, MapRequest):
                self._fit_map(request)
                return
            result, save = self._train(request)
            asked = self.store.stop_request(job_id)
            stopped = result.stopped
            values = {"steps": result.steps, "seconds": round(result.seconds, 3), "before": result.before}
            values["after"] = result.after
            if self.shutdown.is_set() and stopped:
                self._write(
                    force=True,
                    state="interrupted",
                    finished=time.time(),
                    phase="interrupted",
                    message=f"the worker was stopped at step {result.steps} of {result.total_steps}: nothing saved",
                    **values,
                )
                return
            saved = None
            if result.model is not None and (
                not stopped or (asked.keep_partial if asked is not None else request.keep_partial)
            ):
                self._write(force=True, phase="saving")
                from embedlab.training.folders import save_where_free

                saved = str(save_where_free(result, request.save_to, save=save))
            result.model = None
            self._write(
                force=True,
                state="stopped" if stopped else "finished",
                finished=time.time(),
                phase="finished",
                saved_to=saved,
                message="stopped early" + ("" if saved else ": nothing saved") if stopped else "",
                **values,
            )
        except EmbedLabError as error:
            self._write(force=True, state="failed", finished=time.time(), phase="failed", message=str(error))
        except Exception as error:  # noqa: BLE001 - a worker reports a run's failure and takes the next one
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            self._write(
                force=True, state="failed", finished=time.time(), phase="failed", message=f"Training failed: {first}"
            )
            traceback.print_exc()
        finally:
            with self._lock:
                self._record = None

    def _train(self, request: TrainRequest):
        """Train the request with the one runner (``embedlab.training.run.run_method``); returns (result, its save
        function). The one call into the training code. A run stopped by SIGTERM, or by a stop that keeps nothing,
        ends without its 'after' measurement."""
        from embedlab.training.methods import save_function, training_method
        from embedlab.training.run import run_method

        job_id = self._record.id
        method = training_method(request.method, request.composition, request.data, load=self._load)

        def keep() -> bool:  # asked when the run stopped early: what _run decides (nothing on shutdown)
            asked = self.store.stop_request(job_id)
            return not self.shutdown.is_set() and (asked.keep_partial if asked is not None else request.keep_partial)

        self._write(force=True, phase="measuring the model before training")
        result = run_method(
            method,
            request.settings,
            eval_pairs=request.eval_pairs,
            progress=self._progress,
            stop=self._stop,
            keep=keep,
        )
        return result, save_function(request.method)

    def _encode(self, request: EncodeRequest) -> None:
        """Encode a corpus (``embedlab.corpus.encode``): only its missing chunks, each written as it finishes, so a
        stopped, interrupted or killed job loses at most the chunk it was encoding; asking again resumes there."""
        stored = open_corpus(corpora_dir() / request.key)  # under this worker's models directory: the app's
        model = self._load(request.model)
        before = len(stored.done_chunks())
        phase = f"encoding (resumed after chunk {before})" if before else "encoding"

        def report(progress: EncodeProgress) -> None:
            rate = (progress.done - progress.resumed_from) / max(progress.elapsed_seconds, 1e-9)
            latest = ProgressReport(
                step=progress.done,
                total=progress.total,
                loss=None,
                steps_per_second=rate,
                eta_seconds=progress.eta_seconds,
                elapsed_seconds=progress.elapsed_seconds,
            )
            self._write(force=True, progress=latest, phase=phase)  # once per chunk: the record says what is kept
            if self.after_chunk is not None and progress.done > before:
                self.after_chunk(job_id, progress.done)

        job_id = self._record.id
        report(EncodeProgress(before, stored.n_chunks, before, 0, 0.0, None))
        result = encode_corpus(stored, model, progress=report, stop=self._stop)
        where = f"after chunk {result.done} of {result.total}: the chunks done are kept, ask again to resume"
        truncated = (
            f"{result.truncated:,} of {stored.n_texts:,} texts were longer than the model's "
            f"{model.st_model.max_seq_length} tokens and were cut"
            if result.truncated
            else ""
        )
        resumed = f"resumed after chunk {result.resumed_from}" if result.resumed_from else ""
        # saved_to stays None: it names a saved model (the Train page offers it for download); the vectors are in
        # the record's save_to, the corpus folder
        values = {"steps": result.done, "seconds": round(result.seconds, 3)}
        if result.finished:
            state, message = "finished", "; ".join(part for part in (resumed, truncated) if part)
        elif self.shutdown.is_set():
            state, message = "interrupted", f"the worker was stopped {where}"
        else:
            state, message = "stopped", f"stopped {where}"
        self._write(force=True, state=state, finished=time.time(), phase=state, message=message, **values)

    def _fit_map(self, request: MapRequest) -> None:
        """Fit an encoded corpus's map (``embedlab.corpus.mapping.kept_corpus_map``) and write it in the corpus
        folder, where every page reads it; a map found there already is not fitted again. The stop is looked at
        after the fit and between the batches of placed points; a stopped map keeps nothing."""
        stored = open_corpus(corpora_dir() / request.key)  # under this worker's models directory: the app's
        if not stored.complete:
            raise EmbedLabError(
                f"The corpus is not encoded yet ({len(stored.done_chunks())} of {stored.n_chunks} chunks): encode it "
                "first, then ask for its map."
            )
        vectors = stored.vectors()
        started = time.monotonic()
        first: list[tuple[int, float]] = []  # (points done, when) at the first report: the fitted ones

        def report(done: int, total: int) -> None:
            now = time.monotonic() - started
            first[:] = first or [(done, now)]
            placed, since = done - first[0][0], now - first[0][1]
            rate = placed / since if placed and since > 0 else 0.0  # points placed a second (0 until known)
            latest = ProgressReport(
                step=done,
                total=total,
                loss=None,
                steps_per_second=rate,
                eta_seconds=(total - done) / rate if rate else (0.0 if done >= total else None),
                elapsed_seconds=now,
            )
            phase = "placing the other points" if done < total else "saving the map"
            self._write(force=done >= total, progress=latest, phase=phase)

        self._write(force=True, phase=f"fitting the map of {len(vectors):,} points")
        fitted, fitted_now = kept_corpus_map(
            stored.folder, vectors, request.projection, request.seed, progress=report, stop=self._stop
        )
        values = {"steps": len(vectors) if fitted is not None else 0, "seconds": round(time.monotonic() - started, 3)}
        if fitted is not None:
            state, message = "finished", "" if fitted_now else "the map was kept already: read, not fitted again"
        elif self.shutdown.is_set():
            state, message = "interrupted", "the worker was stopped while fitting the map: nothing was kept"
        else:
            state, message = "stopped", "stopped while fitting the map: nothing was kept, ask again to fit it"
        self._write(force=True, state=state, finished=time.time(), phase=state, message=message, **values)

    def stop_on_signals(self) -> None:
        """SIGTERM and Ctrl-C (SIGINT) stop the run after its current step, then the worker exits (main thread
        only)."""

        def handler(signum, frame) -> None:
            self.shutdown.set()
            self._stop.set()

        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, handler)
