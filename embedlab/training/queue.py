"""Training runs as jobs on a task queue (Huey), trained one at a time by worker processes, never by the web server.

Why a queue library, and why Huey: a run must outlive the process that asked for it (a web server restarted, a
browser closed), wait its turn behind other people's runs, and be trained where the CPU is free, possibly on another
machine. Huey is a small, pure-Python task queue with an embedded backend (SQLite, one file: nothing to install or
run) and a networked one (Redis) behind the same API, and its storage has key-value methods (``put_data``,
``peek_data``, ``result_items``) on both, so the queue and the job records live in one place. (Celery or RQ need a
broker even on one machine.)

The pieces:

- the queue: ``SqliteHuey`` at ``<models_dir>/.queue/queue.db`` by default (a hidden folder: no model box lists it);
  ``EMBEDLAB_QUEUE=redis://host:6379/0`` uses ``RedisHuey`` instead, for workers on several machines (the ``redis``
  package is imported only then). A queued run is a Huey task ``(job_id, TrainRequest)``, pickled by Huey.
- the job records: one JSON document per run in Huey's key-value storage (``job.<id>``): name, method, state,
  owner (a SHA-256 of the session's token, and a label), times, progress, the worker, its heartbeat, and once it
  ended its numbers (before/after, losses). Written by whoever queues the run, then only by the worker that trains it.
  A stop request is a key of its own (``stop.<id>``), so a stopper never overwrites the worker's progress. The
  run's evaluation pairs are kept beside it (``eval.<id>``, pickled) for measuring another model the same way later;
  ``admin`` holds the SHA-256 of the admin token the app and the workers were started with.
- the workers (``Worker``; ``python -m embedlab worker``): each takes one task at a time, trains it with
  ``torch.set_num_threads(threads)`` (default: one core less than the machine has, at least 1: on a 2-core machine
  the web server keeps a core; see docs/benchmarks.md) at a lower CPU priority (``WORKER_NICE``: when a page and a
  training step want the same core, the page wins), writes a heartbeat (``worker.<id>``, and the running job's
  record) every ``HEARTBEAT_S`` seconds, and polls the stop key between steps. SIGTERM or Ctrl-C stops its run after
  the current step; the run is recorded "interrupted" and nothing is saved. Saving is atomic
  (``embedlab.training.save.save_atomically``): a killed worker never leaves a folder a model box would list.
- the worker reads tasks itself (``huey.dequeue()``) rather than running Huey's consumer: it takes one task at a
  time, handles SIGTERM its own way (the run ends its step; Huey's consumer would stop at once or wait for the
  whole run) and heartbeats while it trains.
- a run whose worker stopped heartbeating (a dead process on this host, or no heartbeat for ``STALE_S`` seconds) is
  shown "interrupted" with its last progress.
- a run lost between the queue and a worker: taking a task off the queue (``huey.dequeue()``) and marking its record
  "running" are two writes, and a worker can die between them (the task gone, no record saying who has it). So a
  worker *claims* before it dequeues: its registry entry (``worker.<id>``) says ``claiming`` until the record of the
  run it took says "running" (the claim is written only when the queue is not empty). A view then knows: a "queued"
  run whose task is no longer pending in Huey, and that no live worker is claiming, was taken by a worker that died
  (a dead claimer is detected like a dead runner: its process on this host, or its heartbeat) and is shown
  "interrupted" ("nothing was trained"); its task is gone, so it is never trained, let alone twice. The reads are
  ordered so that a live claimer is never missed (the records, then the pending tasks, then the records again, the
  last two only when a queued run is not held by anyone), and ``submit`` enqueues the task *before* it writes the
  record (a worker that takes a task whose record is not written yet waits for it, up to ``STALE_S``, and drops a
  task whose submitter died in between): a "queued" record therefore always has its task enqueued.
- ``ensure_worker``: the app (``streamlit run app.py``) starts one local worker, detached (its own session, logs in
  the queue folder), when a run is queued, or when the Train page shows a queued run, and no worker is alive (a
  server restarted with queued runs gets them trained); ``python -m embedlab serve --workers K`` starts K.
  ``EMBEDLAB_AUTO_WORKER=0`` stops the app from ever starting one (workers are then started by hand, by ``serve``,
  or on other machines): queued runs wait for them.

Ownership: only the token that queued a run may stop or cancel it (``stop``), or an admin: whoever knows
``EMBEDLAB_ADMIN_TOKEN`` of the server (compared with ``hmac.compare_digest``). Everyone sees every run's name,
method, state, position and progress (``JobView.redacted``), never another owner's data source, numbers or error.

Example:
    >>> jobs = JobQueue()
    >>> job_id = jobs.submit(TrainRequest(Composition("all-MiniLM-L6-v2"), bundled_data("simcse"),
    ...                                   TrainSettings(max_steps=20), save_to="/tmp/m/simcse"), owner="s1")
    >>> Worker(jobs).run(until_idle=True)  # doctest: +SKIP
    >>> jobs.view(job_id, owner="s1").state  # doctest: +SKIP
    'finished'
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from embedlab import served
from embedlab.errors import EmbedLabError
from embedlab.models.names import MODELS_DIR_ENV, models_dir
from embedlab.training.compose import Composition
from embedlab.training.data import TrainingData
from embedlab.training.folders import is_taken
from embedlab.training.run import ProgressReport, Scores, TrainSettings, count_steps

QUEUE_ENV = "EMBEDLAB_QUEUE"  # redis://host:port/db for several machines; empty: SQLite in the models directory
ADMIN_ENV = "EMBEDLAB_ADMIN_TOKEN"
MAX_QUEUED_ENV = "EMBEDLAB_MAX_QUEUED"
AUTO_WORKER_ENV = "EMBEDLAB_AUTO_WORKER"  # "0": the app never starts a worker (they are started by hand or elsewhere)
LOST_MESSAGE = "its worker stopped as it took the run from the queue: nothing was trained"
PAUSE_AFTER_DEQUEUE_ENV = "EMBEDLAB_TEST_PAUSE_AFTER_DEQUEUE"  # tests only: a file the worker writes, then it hangs
DEFAULT_MAX_QUEUED = 3  # queued + running runs per session
QUEUE_FOLDER = ".queue"  # under the models directory: hidden, so no model box lists it
QUEUE_NAME = "embedlab"
TASK_NAME = "embedlab.train"
HEARTBEAT_S = 2.0  # a worker writes its heartbeat this often
STALE_S = 30.0  # a running job whose heartbeat is older is interrupted (its worker is gone)
POLL_S = 0.5  # an idle worker looks for a task this often
WORKER_NICE = 10  # `python -m embedlab worker` lowers its CPU priority by this: pages first, training second
PROGRESS_WRITE_S = 0.5  # a running job's record is rewritten at most this often (and at the end)
MAX_LOSS_POINTS = 2000  # a record keeps at most about this many loss points (thinned by half beyond)
MAX_FINISHED_RECORDS = 200  # older ended runs' records are dropped when a run is queued
ROOT = Path(__file__).resolve().parents[2]

State = Literal["queued", "running", "finished", "stopped", "failed", "interrupted"]
ACTIVE_STATES = ("queued", "running")
CROSS_METHOD = "cross-encoder"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def admin_token_matches(typed: str, expected: str | None = None) -> bool:
    """Whether ``typed`` is the server's ``EMBEDLAB_ADMIN_TOKEN`` (never true when none is set)."""
    expected = os.environ.get(ADMIN_ENV, "") if expected is None else expected
    return bool(expected) and bool(typed) and hmac.compare_digest(typed.encode("utf-8"), expected.encode("utf-8"))


def max_queued() -> int:
    """Queued + running runs a session may have (``EMBEDLAB_MAX_QUEUED``, default 3)."""
    text = os.environ.get(MAX_QUEUED_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_MAX_QUEUED


def default_threads() -> int:
    """Torch threads of a worker: one core less than the machine has (the web server keeps one), at least 1."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class TrainRequest:
    """Everything one run needs. ``save_to``: the folder to save into; ``cross``: train a cross-encoder on the
    composition's start model (``embedlab.training.cross``) instead of a sentence embedder."""

    composition: Composition
    data: TrainingData
    settings: TrainSettings
    save_to: str
    eval_pairs: object = None  # a ScoredPairs, or None
    keep_partial: bool = True  # save the model when stopped by its owner
    cross: bool = False

    @property
    def method(self) -> str:
        return CROSS_METHOD if self.cross else self.data.method

    @property
    def name(self) -> str:
        return Path(self.save_to).name


@dataclass(frozen=True)
class JobView:
    """One run as a page or the command line shows it.

    ``mine`` is False for a caller that did not queue the run (and is not the admin): then the data source, the
    composition, the numbers, the error and the saved folder are left out (``redacted``).
    """

    job_id: str
    name: str
    method: str
    state: State
    created: float
    position: int | None = None  # 1 = next to start; queued runs only
    starts_in: float | None = None  # estimated seconds until it starts; queued runs only
    started: float | None = None
    finished: float | None = None
    latest: ProgressReport | None = None
    phase: str = ""
    owner_label: str = ""
    message: str = ""
    worker: str = ""
    stopping: bool = False
    mine: bool = True
    source: str = ""
    composition: Composition | None = None
    seed: int = 0
    save_to: str = ""
    saved_to: str | None = None
    before: Scores | None = None
    after: Scores | None = None
    losses: tuple[tuple[int, float], ...] = ()
    evals: tuple[tuple[int, float | None], ...] = ()
    steps: int = 0
    seconds: float = 0.0
    owner_hash: str = field(default="", repr=False)  # compared, never shown

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def cross(self) -> bool:
        return self.method == CROSS_METHOD

    @property
    def status(self) -> str:
        return self.state

    def redacted(self) -> JobView:
        """What everyone may see of a run: its name, method, state, position, progress and owner label."""
        return replace(
            self,
            mine=False,
            owner_hash="",
            source="",
            composition=None,
            save_to="",
            saved_to=None,
            before=None,
            after=None,
            losses=(),
            evals=(),
            message="" if self.state == "failed" else self.message,
        )

    def as_row(self) -> dict:
        """For ``jobs --json`` and tables: plain values only."""
        latest = self.latest
        return {
            "id": self.job_id,
            "name": self.name,
            "method": self.method,
            "state": self.state,
            "position": self.position,
            "progress": None if latest is None else f"{latest.step}/{latest.total}",
            "owner": self.owner_label,
            "created": _iso(self.created),
            "finished": _iso(self.finished),
        }


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _scores(values: dict | None) -> Scores | None:
    return None if not values else Scores(**values)


def _report(values: dict | None) -> ProgressReport | None:
    return None if not values else ProgressReport(**values)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's live process
    with contextlib.suppress(OSError, ValueError):  # a zombie (exited, not yet reaped) is not alive
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return status != "Z"
    return True


HOST = socket.gethostname()


def _worker_gone(info: dict, now: float) -> bool:
    """Whether the worker of a record (pid, host, heartbeat) has stopped: a dead process on this host, or a
    heartbeat older than ``STALE_S``."""
    if now - float(info.get("heartbeat") or 0) > STALE_S:
        return True
    return info.get("host") == HOST and bool(info.get("pid")) and not _pid_alive(int(info["pid"]))


class JobQueue:
    """The queue, the job records and the worker registry of one models directory (or of ``EMBEDLAB_QUEUE``).

    Args:
        location: a ``redis://`` URL or a SQLite file path; default ``$EMBEDLAB_QUEUE``, else
            ``<models_dir>/.queue/queue.db``.
        publish_admin: store a hash of this process's ``EMBEDLAB_ADMIN_TOKEN`` in the queue (the app and the
            workers do; the command line's ``jobs stop`` only compares with it).
    """

    def __init__(self, location: str | None = None, publish_admin: bool = False) -> None:
        location = (location if location is not None else os.environ.get(QUEUE_ENV, "")).strip()
        if location.startswith(("redis://", "rediss://", "unix://")):
            import importlib.util

            if importlib.util.find_spec("redis") is None:  # only the Redis backend needs it: not a requirement
                raise EmbedLabError(
                    f"{QUEUE_ENV}={location} needs the redis package: pip install redis (or unset {QUEUE_ENV} for "
                    "the SQLite queue in the models directory)."
                )
            from huey import RedisHuey

            self.huey = RedisHuey(QUEUE_NAME, url=location, blocking=False)
            self.folder = models_dir() / QUEUE_FOLDER  # the local workers' logs
            self.location = location
        else:
            path = Path(location).expanduser() if location else models_dir() / QUEUE_FOLDER / "queue.db"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise EmbedLabError(f"Cannot create the queue folder {path.parent}: {error.strerror}.") from None
            from huey import SqliteHuey

            self.huey = SqliteHuey(QUEUE_NAME, filename=str(path), timeout=30)
            self.folder = path.parent
            self.location = str(path)
        self.storage = self.huey.storage
        self._task = self.huey.task(name=TASK_NAME)(_refuse_inline)
        admin = os.environ.get(ADMIN_ENV, "")
        if admin and publish_admin:  # the command line's `jobs stop` checks its token against this
            self._put("admin", token_hash(admin))

    # ---------------------------------------------------------------- storage

    def _put(self, key: str, value) -> None:
        self.storage.put_data(key, json.dumps(value).encode("utf-8"))

    def _get(self, key: str):
        from huey.constants import EmptyData

        raw = self.storage.peek_data(key)
        return None if raw is EmptyData else json.loads(bytes(raw).decode("utf-8"))

    def _items(self) -> dict[str, dict]:
        found = {}
        for key, raw in self.storage.result_items().items():
            key = key.decode() if isinstance(key, bytes) else key
            if key.startswith(("job.", "stop.", "worker.")):
                with contextlib.suppress(ValueError):
                    found[key] = json.loads(bytes(raw).decode("utf-8"))
        return found

    def record(self, job_id: str) -> dict | None:
        return self._get(f"job.{job_id}")

    def put_record(self, record: dict) -> None:
        self._put(f"job.{record['id']}", record)

    def stop_request(self, job_id: str) -> dict | None:
        return self._get(f"stop.{job_id}")

    def stored_admin_hash(self) -> str | None:
        return self._get("admin")

    def eval_pairs(self, job_id: str):
        """The evaluation pairs a run was queued with (a ScoredPairs), or None."""
        import pickle

        from huey.constants import EmptyData

        raw = self.storage.peek_data(f"eval.{job_id}")
        return None if raw is EmptyData else pickle.loads(bytes(raw))  # noqa: S301 - written by submit, server-side

    # ---------------------------------------------------------------- queueing

    def submit(self, request: TrainRequest, owner: str, label: str = "") -> str:
        """Queue a run for ``owner`` (the token that may stop it and read its details) and return its id.

        Raises:
            EmbedLabError: the name is taken (a folder, or a queued or running run), the owner already has
                ``max_queued()`` runs queued or running, or (served mode) the run is over the step limit.
        """
        served.check_steps(count_steps(request.data.n_examples, request.settings))
        if is_taken(request.save_to):
            raise EmbedLabError(
                f"A model named {request.name!r} already exists ({request.save_to}): choose another name."
            )
        items = self._items()
        records = [value for key, value in items.items() if key.startswith("job.")]
        views = self._views(records, items)
        folder = str(Path(request.save_to).expanduser().resolve())
        for view in views:
            if view.active and view.save_to == folder:
                raise EmbedLabError(
                    f"The name {request.name!r} is taken by a run that is {view.state}: choose another name."
                )
        owner_hash = token_hash(owner)
        mine = [view for view in views if view.active and view.owner_hash == owner_hash]
        if len(mine) >= max_queued():
            raise EmbedLabError(
                f"You have {len(mine)} runs queued or running, the most a session may have ({max_queued()}): wait "
                "for one to finish, or cancel one."
            )
        job_id = secrets.token_hex(4)
        now = time.time()
        composition = request.composition
        # The task first, then its record: a "queued" record always has its task enqueued (or taken by a worker that
        # claimed it), which is how a view tells a run lost by a dying worker (see the module docstring).
        self._task(job_id, replace(request, save_to=folder))
        self.put_record(
            {
                "id": job_id,
                "seq": time.time_ns(),
                "name": request.name,
                "method": request.method,
                "model": composition.model,
                "source": request.data.source,
                "composition": asdict(composition),
                "seed": int(request.settings.seed),
                "save_to": folder,
                "planned_steps": count_steps(request.data.n_examples, request.settings),
                "state": "queued",
                "owner_hash": owner_hash,
                "owner_label": label or f"session {owner_hash[:6]}",
                "created": now,
            }
        )
        if request.eval_pairs is not None:  # for measuring another model beside the run afterwards, the same way
            import pickle

            self.storage.put_data(f"eval.{job_id}", pickle.dumps(request.eval_pairs))
        self._prune(records)
        return job_id

    def _prune(self, records: list[dict]) -> None:
        ended = sorted((r for r in records if r.get("state") not in ACTIVE_STATES), key=lambda r: r.get("seq", 0))
        for old in ended[: max(0, len(ended) - MAX_FINISHED_RECORDS)]:
            for kind in ("job", "stop", "eval"):
                self.storage.delete_data(f"{kind}.{old['id']}")

    def stop(self, job_id: str, owner: str = "", admin: bool = False, keep_partial: bool = True) -> bool:
        """Stop a running run after its current step, or cancel a queued one. False when it is not active.

        Raises:
            EmbedLabError: the run is not ``owner``'s and ``admin`` is False, or there is no such run.
        """
        record = self.record(job_id)
        if record is None:
            raise EmbedLabError(f"No run with id {job_id!r}: `python -m embedlab jobs` lists them.")
        if not admin and not hmac.compare_digest(record.get("owner_hash", ""), token_hash(owner)):
            raise EmbedLabError(
                "This run was queued by another session: only that session (or the teacher, with the admin token) "
                "can stop it."
            )
        view = self._views([record], self._items())[0]
        if not view.active:
            return False
        self._put(f"stop.{job_id}", {"at": time.time(), "admin": admin, "keep_partial": keep_partial})
        if record["state"] == "queued":
            record.update(state="stopped", finished=time.time(), message="cancelled before it started")
            self.put_record(record)
        return True

    # ---------------------------------------------------------------- reading

    def views(self, owner: str = "") -> list[JobView]:
        """Every run: active ones in queue order first, then ended ones, newest first. Another owner's runs are
        redacted (the admin too sees them so: stopping needs only the id)."""
        items = self._items()
        records = [value for key, value in items.items() if key.startswith("job.")]
        views = self._views(records, items)
        owner_hash = token_hash(owner) if owner else None
        shown = [view if view.owner_hash == owner_hash else view.redacted() for view in views]
        active = [view for view in shown if view.active]
        ended = sorted((view for view in shown if not view.active), key=lambda v: v.finished or v.created, reverse=True)
        return active + ended

    def view(self, job_id: str, owner: str = "") -> JobView | None:
        return next((view for view in self.views(owner) if view.job_id == job_id), None)

    def live_workers(self) -> list[dict]:
        now = time.time()
        return [
            value for key, value in self._items().items() if key.startswith("worker.") and not _worker_gone(value, now)
        ]

    def _lost(self, records: list[dict], items: dict) -> set[str]:
        """Ids of the "queued" runs whose task a worker took off the queue before it died, without marking them
        running: not pending in Huey, and no live worker claiming them. ``items`` is read before the pending tasks and
        the registry again after them, so a worker that was taking one of them is seen (module docstring)."""
        now = time.time()
        live = [value for key, value in items.items() if key.startswith("worker.") and not _worker_gone(value, now)]
        held = {info.get("job") for info in live}
        suspects = {
            record["id"]
            for record in records
            if record.get("state", "queued") == "queued" and f"stop.{record['id']}" not in items
        } - held
        if not suspects or any(info.get("claiming") for info in live):
            return set()  # nothing to check, or a worker is taking a run right now: look again at the next view
        try:
            pending = {task.args[0] for task in self.huey.pending() if task.args}
        except Exception:  # noqa: BLE001 - a task this version cannot read: count nothing as lost
            return set()
        missing = suspects - pending
        if not missing:
            return set()
        again = self._items()
        now = time.time()
        live = [value for key, value in again.items() if key.startswith("worker.") and not _worker_gone(value, now)]
        if any(info.get("claiming") for info in live):
            return set()
        held = {info.get("job") for info in live}
        return {
            job_id
            for job_id in missing - held
            if (again.get(f"job.{job_id}") or {}).get("state") == "queued" and f"stop.{job_id}" not in again
        }

    def _views(self, records: list[dict], items: dict) -> list[JobView]:
        lost = self._lost(records, items)
        now = time.time()
        records = sorted(records, key=lambda r: r.get("seq", 0))
        per_step, overhead = _measured_pace(records)
        workers = max(1, sum(1 for k, v in items.items() if k.startswith("worker.") and not _worker_gone(v, now)))
        views: list[JobView] = []
        busy: list[float] = []  # seconds left of each run ahead (running or queued)
        position = 0
        for record in records:
            state = record.get("state", "queued")
            stop = items.get(f"stop.{record['id']}")
            message = record.get("message", "")
            latest = _report(record.get("progress"))
            if state == "queued" and stop is not None:
                state, message = "stopped", "cancelled before it started"
            if state == "queued" and record["id"] in lost:
                state, message = "interrupted", LOST_MESSAGE
            if state == "running" and _worker_gone(record.get("worker") or {}, now):
                where = f" at step {latest.step} of {latest.total}" if latest is not None and latest.step else ""
                state, message = "interrupted", f"its worker stopped{where}: nothing was saved"
            estimate = None
            if per_step is not None:
                estimate = overhead + per_step * int(record.get("planned_steps") or 0)
            starts_in = None
            if state == "running":
                left = latest.eta_seconds if latest is not None and latest.eta_seconds is not None else estimate
                busy.append(float(left or 0.0) + (overhead / 2 if per_step is not None else 0.0))
            elif state == "queued":
                position += 1
                if per_step is not None:
                    starts_in = sum(busy) / workers if len(busy) >= workers else 0.0
                busy.append(float(estimate or 0.0))
            composition = record.get("composition")
            view = JobView(
                job_id=record["id"],
                name=record.get("name", ""),
                method=record.get("method", ""),
                state=state,
                created=float(record.get("created") or 0),
                position=position if state == "queued" else None,
                starts_in=starts_in,
                started=record.get("started"),
                finished=record.get("finished"),
                latest=latest,
                phase=record.get("phase", ""),
                owner_label=record.get("owner_label", ""),
                message=message,
                worker=_worker_text(record.get("worker")),
                stopping=state == "running" and stop is not None,
                source=record.get("source", ""),
                composition=Composition(**composition) if composition else None,
                seed=int(record.get("seed") or 0),
                save_to=record.get("save_to", ""),
                saved_to=record.get("saved_to"),
                before=_scores(record.get("before")),
                after=_scores(record.get("after")),
                losses=tuple(tuple(point) for point in record.get("losses", ())),
                evals=tuple(tuple(point) for point in record.get("evals", ())),
                steps=int(record.get("steps") or 0),
                seconds=float(record.get("seconds") or 0.0),
                owner_hash=record.get("owner_hash", ""),
            )
            views.append(view)
        return views


def _worker_text(info: dict | None) -> str:
    return "" if not info else f"{info.get('host', '?')} pid {info.get('pid', '?')}"


def _measured_pace(records: list[dict]) -> tuple[float | None, float]:
    """(seconds per training step, seconds of a run outside its steps: loading, measuring, saving) measured over
    the finished runs; (None, 0) before any run has finished."""
    done = [r for r in records if r.get("state") == "finished" and r.get("steps") and r.get("started")]
    if not done:
        return None, 0.0
    per_step = sum(float(r["seconds"]) for r in done) / sum(int(r["steps"]) for r in done)
    overhead = sum(max(0.0, float(r["finished"]) - float(r["started"]) - float(r["seconds"])) for r in done) / len(done)
    return per_step, overhead


def _refuse_inline(job_id, request):  # pragma: no cover - a worker reads the task's arguments itself
    raise RuntimeError("training tasks are run by embedlab workers (python -m embedlab worker)")


# -------------------------------------------------------------------- worker


class Worker:
    """Takes queued runs one at a time and trains them in this process (see the module docstring).

    Args:
        jobs: the queue.
        threads: torch threads for training (default ``default_threads()``).
    """

    def __init__(self, jobs: JobQueue, threads: int | None = None) -> None:
        self.jobs = jobs
        self.threads = threads or default_threads()
        self.worker_id = secrets.token_hex(4)
        self.shutdown = threading.Event()  # SIGTERM / Ctrl-C: stop the run after its step, then exit
        self._lock = threading.Lock()
        self._record: dict | None = None  # the running job's record, written under the lock
        self._stop = threading.Event()  # the running job's stop (its owner, the admin, or the shutdown)
        self._last_write = 0.0
        self._models: dict[str, object] = {}
        self._claiming = False  # between taking a task off the queue and its record saying "running"
        self._registry = threading.Lock()  # one writer of this worker's registry entry at a time

    def info(self, job_id: str | None = None) -> dict:
        return {
            "id": self.worker_id,
            "pid": os.getpid(),
            "host": HOST,
            "heartbeat": time.time(),
            "job": job_id,
            "claiming": self._claiming,
        }

    def _register(self, claiming: bool | None = None) -> None:
        """Write this worker's registry entry (its heartbeat, its run, whether it is claiming one)."""
        with self._registry:
            if claiming is not None:
                self._claiming = claiming
            with self._lock:
                job_id = self._record["id"] if self._record else None
            self.jobs._put(f"worker.{self.worker_id}", self.info(job_id))

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
                if not self.jobs.huey.pending_count():  # nothing queued: no claim written
                    if until_idle:
                        break
                    self.shutdown.wait(POLL_S)
                    continue
                self._register(claiming=True)  # before the task leaves the queue (see the module docstring)
                task = self.jobs.huey.dequeue()
                if task is None:  # another worker was quicker
                    self._register(claiming=False)
                    continue
                taken += 1
                job_id, request = task.args
                if pause := os.environ.get(PAUSE_AFTER_DEQUEUE_ENV):  # tests only: die here, the run just taken
                    Path(pause).write_text(job_id)
                    self.shutdown.wait()
                    continue
                self._run(job_id, request)
        finally:
            self.shutdown.set()
            beat.join(timeout=HEARTBEAT_S * 2)
            self.jobs.storage.delete_data(f"worker.{self.worker_id}")
        return taken

    def _heartbeat(self) -> None:
        while not self.shutdown.wait(HEARTBEAT_S):
            with self._lock:
                record = self._record
                job_id = record["id"] if record else None
            self._register()
            if job_id is not None:
                if self.jobs.stop_request(job_id) is not None:
                    self._stop.set()
                self._write(force=True)

    def _write(self, force: bool = False, **values) -> None:
        with self._lock:
            if self._record is None:
                return
            self._record.update(values)
            now = time.time()
            if not force and now - self._last_write < PROGRESS_WRITE_S:
                return
            self._last_write = now
            self._record["worker"] = self.info(self._record["id"])
            self.jobs.put_record(dict(self._record))

    def _progress(self, report: ProgressReport) -> None:
        with self._lock:
            record = self._record
            if report.loss is not None:
                losses = record.setdefault("losses", [])
                losses.append([report.step, report.loss])
                if len(losses) > MAX_LOSS_POINTS:
                    record["losses"] = losses[::2]
            if report.eval_spearman is not None:
                record.setdefault("evals", []).append([report.step, report.eval_spearman])
        phase = "measuring the trained model" if report.step >= report.total else "training"
        self._write(force=report.step >= report.total, progress=asdict(report), phase=phase)

    def _load(self, ref: str):
        if ref not in self._models:
            from embedlab.models.loading import load_model

            self._models = {ref: load_model(ref)}  # one start model kept between runs
        return self._models[ref]

    def _run(self, job_id: str, request: TrainRequest) -> None:
        record = self.jobs.record(job_id)
        deadline = time.monotonic() + STALE_S
        while record is None and time.monotonic() < deadline and not self.shutdown.is_set():
            self.shutdown.wait(0.1)  # its submitter enqueues the task, then writes the record
            record = self.jobs.record(job_id)
        if record is None:
            print(f"dropped run {job_id}: the process that queued it stopped before recording it", file=sys.stderr)
            self._register(claiming=False)
            return
        stop = self.jobs.stop_request(job_id)
        if stop is not None:
            record.update(state="stopped", finished=record.get("finished") or time.time())
            record.setdefault("message", "cancelled before it started")
            self.jobs.put_record(record)
            self._register(claiming=False)
            return
        self._stop = threading.Event()
        record.update(state="running", started=time.time(), phase="loading the start model", message="")
        with self._lock:
            self._record = record
        self._write(force=True)
        self._register(claiming=False)  # the record now says who has the run
        try:
            result, save = self._train(request)
            asked = self.jobs.stop_request(job_id) or {}
            stopped = result.stopped
            values = {
                "steps": result.steps,
                "seconds": round(result.seconds, 3),
                "before": result.before.as_dict() if result.before else None,
                "after": result.after.as_dict() if result.after else None,
            }
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
            if result.model is not None and (not stopped or asked.get("keep_partial", request.keep_partial)):
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
        function). A run stopped by SIGTERM, or by a stop that keeps nothing, ends without its 'after' measurement."""
        from embedlab.training.methods import save_function, training_method
        from embedlab.training.run import run_method

        job_id = self._record["id"]
        method = training_method(request.method, request.composition, request.data, load=self._load)

        def keep() -> bool:  # asked when the run stopped early: what _run decides (nothing on shutdown)
            asked = self.jobs.stop_request(job_id) or {}
            return not self.shutdown.is_set() and asked.get("keep_partial", request.keep_partial)

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

    def stop_on_signals(self) -> None:
        """SIGTERM and Ctrl-C (SIGINT) stop the run after its current step, then the worker exits (main thread
        only)."""

        def handler(signum, frame) -> None:
            self.shutdown.set()
            self._stop.set()

        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, handler)


# -------------------------------------------------------------------- starting workers

_STARTED: list[subprocess.Popen] = []  # workers this process started (reaped when the next one starts)


def worker_command(threads: int | None = None) -> list[str]:
    command = [sys.executable, "-m", "embedlab", "worker"]
    return command + (["--threads", str(threads)] if threads else [])


def worker_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """A worker's environment: the same models directory (absolute), torch quiet about tokenizer threads."""
    env = dict(os.environ if base is None else base)
    env[MODELS_DIR_ENV] = str(models_dir())
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def ensure_worker(jobs: JobQueue) -> subprocess.Popen | None:
    """Start one local worker, detached, unless a worker is alive (or one was started here moments ago and is still
    starting), or ``EMBEDLAB_AUTO_WORKER=0``. Returns the new process, or None when none was needed. Its log:
    ``<queue folder>/worker-PID.log``."""
    for process in list(_STARTED):
        if process.poll() is not None:
            _STARTED.remove(process)
    if os.environ.get(AUTO_WORKER_ENV, "").strip() == "0" or jobs.live_workers():
        return None
    import fcntl

    jobs.folder.mkdir(parents=True, exist_ok=True)
    with open(jobs.folder / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions queueing at once start one worker
        starting = jobs._get("starting") or {}
        if starting.get("host") == HOST and _pid_alive(int(starting.get("pid") or 0)):
            if time.time() - float(starting.get("at") or 0) < STALE_S:
                return None  # started a moment ago: it registers once its imports are done
        if jobs.live_workers():
            return None
        log = open(jobs.folder / "worker-starting.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            worker_command(),
            cwd=ROOT,
            env=worker_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session and process group: a Ctrl-C of the server does not reach it
        )
        log.close()
        with contextlib.suppress(OSError):
            (jobs.folder / "worker-starting.log").rename(jobs.folder / f"worker-{process.pid}.log")
        jobs._put("starting", {"pid": process.pid, "host": HOST, "at": time.time()})
        _STARTED.append(process)
        return process


def command_line_label() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"{user}@{HOST} (command line)"
