"""Training runs as jobs on a task queue (Huey), trained one at a time by worker processes, never by the web server.

Why a queue library, and why Huey: a run must outlive the process that asked for it (a web server restarted, a
browser closed), wait its turn behind other people's runs, and be trained where the CPU is free, possibly on another
machine. Huey is a small, pure-Python task queue with an embedded backend (SQLite, one file: nothing to install or
run) and a networked one (Redis) behind the same API, and its storage has key-value methods on both, so the queue and
the job records live in one place. (Celery or RQ need a broker even on one machine.)

The modules:

- ``records``: what is stored, as pydantic models validated when read back: a run's record (``JobRecord``: name,
  method, state, owner and browser hashes, times, progress, its worker, its numbers), a worker's registry entry
  (``WorkerEntry``), a stop request; ``TrainRequest``, ``EncodeRequest`` or ``MapRequest`` (pickled in the Huey
  task) and ``JobView`` (what is shown).
- ``storage``: the Huey queue (``SqliteHuey`` at ``<models_dir>/.queue/queue.db``, or ``RedisHuey`` for the
  ``queue`` setting ``redis://host:6379/0``) and its key-value entries; a file that is not a database is one
  ``QueueUnreadable`` naming it.
- ``jobs``: ``JobQueue``: submit a run, or (``submit_encode``, ``submit_map``) a corpus to encode or its map to
  fit, one job shared by every asker
  (with the per-browser cap and, in served mode, the bound on the whole queue), stop,
  and the views, which tell a run whose worker died (interrupted, finished when the loss was seen).
- ``worker``: ``Worker``, the loop of ``python -m embedlab worker``: claims, heartbeats, SIGTERM.
- ``spawn``: ``ensure_worker`` (the app starts a detached local worker when one is needed), the worker command.
- ``admin``: the admin token (the teacher's) and token hashes.

Ownership: only the token that queued a run may stop or cancel it, or an admin: whoever knows the server's admin
token. Everyone sees every run's name, method, state, position and progress (``JobView.redacted``), never another
owner's data source, numbers or error.

Example:
    >>> jobs = JobQueue()
    >>> job_id = jobs.submit(TrainRequest(Composition("all-MiniLM-L6-v2"), bundled_data("simcse"),
    ...                                   TrainSettings(max_steps=20), save_to="/tmp/m/simcse"), owner="s1")
    >>> Worker(jobs).run(until_idle=True)  # doctest: +SKIP
    >>> jobs.view(job_id, owner="s1").state  # doctest: +SKIP
    'finished'
"""

from __future__ import annotations

from embedlab.settings import env_name, get_settings
from embedlab.training.queue.admin import ADMIN_ENV, admin_token_matches, token_hash
from embedlab.training.queue.jobs import JobQueue, queue_full_message
from embedlab.training.queue.records import (
    CROSS_METHOD,
    ENCODE_METHOD,
    HOST,
    MAP_METHOD,
    STALE_S,
    EncodeRequest,
    JobView,
    MapRequest,
    TrainRequest,
)
from embedlab.training.queue.spawn import command_line_label, ensure_worker, worker_command, worker_environment
from embedlab.training.queue.storage import QueueUnreadable
from embedlab.training.queue.worker import WORKER_NICE, Worker

QUEUE_ENV = env_name("queue")
AUTO_WORKER_ENV = env_name("auto_worker")


def max_queued() -> int:
    """Queued + running runs one browser may have (the ``max_queued`` setting)."""
    return get_settings().max_queued


def max_queue_size() -> int:
    """Queued + running runs the whole queue may hold in served mode (the ``max_queue_size`` setting)."""
    return get_settings().max_queue_size


__all__ = [
    "ADMIN_ENV",
    "AUTO_WORKER_ENV",
    "CROSS_METHOD",
    "ENCODE_METHOD",
    "HOST",
    "MAP_METHOD",
    "QUEUE_ENV",
    "STALE_S",
    "WORKER_NICE",
    "EncodeRequest",
    "JobQueue",
    "JobView",
    "MapRequest",
    "QueueUnreadable",
    "TrainRequest",
    "Worker",
    "admin_token_matches",
    "command_line_label",
    "ensure_worker",
    "max_queue_size",
    "max_queued",
    "queue_full_message",
    "token_hash",
    "worker_command",
    "worker_environment",
]
