"""A test-only worker entry: ``python tests/core/paused_worker.py TAKEN`` runs a worker on the queue of
``EMBEDLAB_MODELS_DIR`` that, right after it takes its first run off the queue (before recording it "running"),
writes the run's id to the file TAKEN and hangs until it is killed: the moment a dying worker can lose a run.

The hook is injected (``Worker(after_dequeue=...)``): the worker's production code reads no test variable.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from embedlab.training.queue import JobQueue, Worker


def main(taken: Path) -> None:
    def hang(job_id: str) -> None:
        taken.write_text(job_id)
        threading.Event().wait()  # until SIGKILL

    Worker(JobQueue(publish_admin=True), threads=1, after_dequeue=hang).run()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
