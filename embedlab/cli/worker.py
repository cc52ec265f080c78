"""``worker``: train queued runs one at a time (``embedlab.training.queue``)."""

from __future__ import annotations

import argparse
import contextlib
import os

from embedlab.cli.common import say, whole_number


def add_worker_command(commands) -> None:
    """The ``worker`` subcommand."""
    worker = commands.add_parser("worker", help="train queued runs, one at a time, until Ctrl-C / SIGTERM")
    worker.add_argument(
        "--threads",
        type=whole_number("a thread count", 1, 256),
        metavar="N",
        help="torch threads for training (default: one core less than the machine has, at least 1)",
    )


def run_worker(args: argparse.Namespace) -> int:
    from embedlab.training.queue import WORKER_NICE, JobQueue, Worker

    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)  # below the web server: a page render wins the core from a training step
    worker = Worker(JobQueue(publish_admin=True), threads=args.threads)
    worker.stop_on_signals()
    say(
        f"worker {worker.worker_id} (pid {os.getpid()}, {worker.threads} torch thread(s)) on the queue "
        f"{worker.jobs.location}; Ctrl-C stops it after the current step"
    )
    taken = worker.run()
    say(f"worker {worker.worker_id} stopped after {taken} run(s)")
    return 0
