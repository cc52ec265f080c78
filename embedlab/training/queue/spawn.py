"""Starting workers: the app (``streamlit run app.py``) starts one local worker, detached (its own session, logs in
the queue folder), when a run is queued, or when the Train page shows a queued run, and no worker is alive (a server
restarted with queued runs gets them trained); ``python -m embedlab serve --workers K`` starts K
(``worker_command``, ``worker_environment``). With the ``auto_worker`` setting off (``EMBEDLAB_AUTO_WORKER=0``) the
app never starts one: workers are then started by hand, by ``serve``, or on other machines, and queued runs wait.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import subprocess
import sys
import time
from pathlib import Path

from embedlab.models.names import MODELS_DIR_ENV, models_dir
from embedlab.settings import get_settings
from embedlab.training.queue.jobs import JobQueue
from embedlab.training.queue.records import HOST, STALE_S, process_alive

ROOT = Path(__file__).resolve().parents[3]

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
    starting), or the ``auto_worker`` setting is off. Returns the new process, or None when none was needed. Its
    log: ``<queue folder>/worker-PID.log``."""
    for process in list(_STARTED):
        if process.poll() is not None:
            _STARTED.remove(process)
    if not get_settings().auto_worker or jobs.live_workers():
        return None
    import fcntl

    jobs.folder.mkdir(parents=True, exist_ok=True)
    with open(jobs.folder / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions queueing at once start one worker
        starting = jobs.store.starting()
        if starting.get("host") == HOST and process_alive(int(starting.get("pid") or 0)):
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
        jobs.store.put_starting({"pid": process.pid, "host": HOST, "at": time.time()})
        _STARTED.append(process)
        return process


def started_workers() -> list[subprocess.Popen]:
    """The workers this process started and has not reaped yet (the list itself: tests end them)."""
    return _STARTED


def command_line_label() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"{user}@{HOST} (command line)"
