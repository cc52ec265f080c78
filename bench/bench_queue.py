"""A page's server time with and without a run training in a worker process: what the queue buys the pages.

    python bench/bench_queue.py --runs 15 --threads 1 2

One warm app (``streamlit run app.py``, a temporary models directory with its own queue). Each measure is a fresh
session of the page over Streamlit's websocket protocol (``bench_serve.one_session``: from the request to the end of
the run of the page script). First with nothing training, then while a worker (``python -m embedlab worker --threads
T``) trains a SimCSE run of the packaged model on the bundled sentences, for each T given. The ratio is the median
with a run training over the median without; the load average is printed with it (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common  # noqa: F401  (offline, repository on sys.path)
from bench_serve import one_session

from embedlab.models.names import MODELS_DIR_ENV
from tools.appserver import running_app


def page_times(port: int, page: str, runs: int) -> list[float]:
    return [asyncio.run(one_session(port, page)) for _ in range(runs)]


def median(times: list[float]) -> float:
    return statistics.median(times)


def start_worker(models: Path, threads: int) -> subprocess.Popen:
    env = dict(os.environ, **{MODELS_DIR_ENV: str(models)})
    command = [sys.executable, "-m", "embedlab", "worker", "--threads", str(threads)]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    return subprocess.Popen(command, cwd=_common.REPO_ROOT, env=env, **quiet)


def wait_training(jobs, job_id: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while time.monotonic() < deadline:
        view = jobs.view(job_id)
        if view is not None and view.state == "running" and view.latest is not None and view.latest.step >= 2:
            return
        if view is not None and not view.active:
            raise RuntimeError(f"the run ended before the measure: {view.state} {view.message}")
        pause.wait(0.5)
    raise RuntimeError("the run did not start training in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="page sessions per measure (default 15)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="worker torch threads to compare")
    parser.add_argument("--page", default="", help="page name ('' = Compare, the landing page)")
    args = parser.parse_args()
    os.environ[MODELS_DIR_ENV] = models = tempfile.mkdtemp(prefix="embedlab-bench-queue-")
    from embedlab.models.names import PACKAGED
    from embedlab.training.compose import Composition
    from embedlab.training.data import bundled_data
    from embedlab.training.queue import JobQueue, TrainRequest
    from embedlab.training.run import TrainSettings

    page = args.page or "compare"
    print(f"{os.cpu_count()} cores; page {page!r}, {args.runs} fresh sessions one after another, warm server")
    with running_app({MODELS_DIR_ENV: models}) as app:
        port = int(app.url.rsplit(":", 1)[1])
        asyncio.run(one_session(port, args.page))  # warm: models loaded, caches filled
        idle = page_times(port, args.page, args.runs)
        print("| training in a worker | page server time, median (min-max) | ratio | load average (1 min) |")
        print("|---|---|---|---|")
        print(f"| none | {median(idle):.2f} s ({min(idle):.2f}-{max(idle):.2f}) | 1.00 | {os.getloadavg()[0]:.1f} |")
        jobs = JobQueue()
        for threads in args.threads:
            settings = TrainSettings(max_steps=100_000, batch_size=16)
            folder = str(Path(models) / f"bench-{threads}")
            request = TrainRequest(Composition(PACKAGED), bundled_data("simcse"), settings, folder, keep_partial=False)
            job_id = jobs.submit(request, owner="bench")
            worker = start_worker(Path(models), threads)
            try:
                wait_training(jobs, job_id)
                busy = page_times(port, args.page, args.runs)
                step = jobs.view(job_id, "bench").latest
                print(
                    f"| SimCSE, packaged model, {threads} torch thread(s) ({step.steps_per_second:.2f} steps/s) | "
                    f"{median(busy):.2f} s ({min(busy):.2f}-{max(busy):.2f}) | {median(busy) / median(idle):.2f} | "
                    f"{os.getloadavg()[0]:.1f} |",
                    flush=True,
                )
            finally:
                jobs.stop(job_id, owner="bench", keep_partial=False)
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=120)


if __name__ == "__main__":
    main()
