"""Where the queue lives: Huey's task queue and its key-value storage, one SQLite file or one Redis database.

Keys: ``job.<id>`` (a ``JobRecord``), ``stop.<id>`` (a ``StopRequest``), ``worker.<id>`` (a ``WorkerEntry``),
``eval.<id>`` (a run's evaluation pairs, pickled), ``admin`` (the SHA-256 of the admin token the app and the workers
were started with) and ``starting`` (the worker the app started last). Records are JSON, validated when read back: an
entry that does not validate is skipped, as if absent.

A queue file that is not a database (or any SQLite error) is one ``QueueUnreadable`` naming the file, raised by the
call that met it, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import pickle
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from embedlab.errors import EmbedLabError
from embedlab.models.names import models_dir
from embedlab.training.queue.records import JobRecord, StopRequest, WorkerEntry

QUEUE_FOLDER = ".queue"  # under the models directory: hidden, so no model box lists it
QUEUE_NAME = "embedlab"
TASK_NAME = "embedlab.train"


class QueueUnreadable(EmbedLabError):
    """The queue's database cannot be read (a damaged file, a file that is not a database); the message names it."""


@dataclass
class Snapshot:
    """Every record, stop request and worker entry, read at once."""

    records: dict[str, JobRecord] = field(default_factory=dict)
    stops: dict[str, StopRequest] = field(default_factory=dict)
    workers: dict[str, WorkerEntry] = field(default_factory=dict)

    def live_workers(self, now: float) -> list[WorkerEntry]:
        return [entry for entry in self.workers.values() if not entry.gone(now)]


def _guarded(method):
    """Turn a database error met by ``method`` into one ``QueueUnreadable`` naming the queue."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.reading():
            return method(self, *args, **kwargs)

    return wrapper


class Store:
    """The task queue and the key-value storage of one place.

    Args:
        location: a ``redis://`` URL, or a SQLite file path; empty: ``<models_dir>/.queue/queue.db``.
    """

    def __init__(self, location: str = "") -> None:
        location = location.strip()
        if location.startswith(("redis://", "rediss://", "unix://")):
            import importlib.util

            if importlib.util.find_spec("redis") is None:  # only the Redis backend needs it: not a requirement
                raise EmbedLabError(
                    f"EMBEDLAB_QUEUE={location} needs the redis package: pip install redis (or unset EMBEDLAB_QUEUE "
                    "for the SQLite queue in the models directory)."
                )
            from huey import RedisHuey

            self.location = location
            self.folder = models_dir() / QUEUE_FOLDER  # the local workers' logs
            self.huey = RedisHuey(QUEUE_NAME, url=location, blocking=False)
        else:
            path = Path(location).expanduser() if location else models_dir() / QUEUE_FOLDER / "queue.db"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise EmbedLabError(f"Cannot create the queue folder {path.parent}: {error.strerror}.") from None
            from huey import SqliteHuey

            self.location = str(path)
            self.folder = path.parent
            with self.reading():
                self.huey = SqliteHuey(QUEUE_NAME, filename=str(path), timeout=30)
        self.storage = self.huey.storage
        self.task = self.huey.task(name=TASK_NAME)(_refuse_inline)

    @contextlib.contextmanager
    def reading(self):
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise QueueUnreadable(
                f"The training queue {self.location} cannot be read ({error}): move the file away (its queued runs "
                "are lost) or set EMBEDLAB_QUEUE to another place."
            ) from None

    # ---------------------------------------------------------------- the task queue

    @_guarded
    def enqueue(self, job_id: str, request) -> None:
        self.task(job_id, request)

    @_guarded
    def pending_count(self) -> int:
        return self.huey.pending_count()

    @_guarded
    def pending_ids(self) -> set[str] | None:
        """The ids of the runs still waiting in the queue; None when a task cannot be read by this version."""
        try:
            return {task.args[0] for task in self.huey.pending() if task.args}
        except sqlite3.DatabaseError:
            raise
        except Exception:  # noqa: BLE001 - a task another version wrote
            return None

    @_guarded
    def dequeue(self):
        """The next task ``(job_id, TrainRequest)`` taken off the queue, or None when another worker was quicker."""
        task = self.huey.dequeue()
        return None if task is None else task.args

    # ---------------------------------------------------------------- key-value entries

    @_guarded
    def _put(self, key: str, value: BaseModel | str | dict) -> None:
        text = value.model_dump_json() if isinstance(value, BaseModel) else json.dumps(value)
        self.storage.put_data(key, text.encode("utf-8"))

    @_guarded
    def _get(self, key: str) -> bytes | None:
        from huey.constants import EmptyData

        raw = self.storage.peek_data(key)
        return None if raw is EmptyData else bytes(raw)

    def _read(self, key: str, model: type[BaseModel]):
        raw = self._get(key)
        if raw is None:
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            return None

    @_guarded
    def delete(self, key: str) -> None:
        self.storage.delete_data(key)

    @_guarded
    def snapshot(self) -> Snapshot:
        found = Snapshot()
        kinds = {
            "job.": (found.records, JobRecord),
            "stop.": (found.stops, StopRequest),
            "worker.": (found.workers, WorkerEntry),
        }
        for key, raw in self.storage.result_items().items():
            key = key.decode() if isinstance(key, bytes) else key
            for prefix, (into, model) in kinds.items():
                if key.startswith(prefix):
                    with contextlib.suppress(ValidationError):
                        into[key[len(prefix) :]] = model.model_validate_json(bytes(raw))
        return found

    def record(self, job_id: str) -> JobRecord | None:
        return self._read(f"job.{job_id}", JobRecord)

    def put_record(self, record: JobRecord) -> None:
        self._put(f"job.{record.id}", record)

    def stop_request(self, job_id: str) -> StopRequest | None:
        return self._read(f"stop.{job_id}", StopRequest)

    def put_stop(self, job_id: str, stop: StopRequest) -> None:
        self._put(f"stop.{job_id}", stop)

    def put_worker(self, entry: WorkerEntry) -> None:
        self._put(f"worker.{entry.id}", entry)

    def delete_worker(self, worker_id: str) -> None:
        self.delete(f"worker.{worker_id}")

    def starting(self) -> dict:
        """The worker the app started last: ``{"pid", "host", "at"}``, or {}."""
        raw = self._get("starting")
        with contextlib.suppress(ValueError):
            value = json.loads(raw) if raw else {}
            return value if isinstance(value, dict) else {}
        return {}

    def put_starting(self, value: dict) -> None:
        self._put("starting", value)

    def admin_hash(self) -> str | None:
        raw = self._get("admin")
        with contextlib.suppress(ValueError):
            value = json.loads(raw) if raw else None
            return value if isinstance(value, str) else None
        return None

    def put_admin_hash(self, value: str) -> None:
        self._put("admin", value)

    @_guarded
    def eval_pairs(self, job_id: str):
        raw = self._get(f"eval.{job_id}")
        return None if raw is None else pickle.loads(raw)  # noqa: S301 - written by submit, server-side

    @_guarded
    def put_eval_pairs(self, job_id: str, pairs) -> None:
        self.storage.put_data(f"eval.{job_id}", pickle.dumps(pairs))

    def forget(self, job_id: str) -> None:
        """Drop an ended run's record, stop request and evaluation pairs."""
        for kind in ("job", "stop", "eval"):
            self.delete(f"{kind}.{job_id}")


def _refuse_inline(job_id, request):  # pragma: no cover - a worker reads the task's arguments itself
    raise RuntimeError("training tasks are run by embedlab workers (python -m embedlab worker)")
