"""A test-only worker entry: ``python tests/core/paused_encoder.py CHUNKS WRITTEN`` runs a worker on the queue of
``EMBEDLAB_MODELS_DIR`` that, once an encoding job has written CHUNKS chunks, writes that number to the file WRITTEN
and hangs until it is killed: a worker killed half-way through a corpus, at a known chunk.

The hook is injected (``Worker(after_chunk=...)``): the worker's production code reads no test variable.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from embedlab.training.queue import JobQueue, Worker


def main(chunks: int, written: Path) -> None:
    def hang(job_id: str, done: int) -> None:
        if done >= chunks:
            written.write_text(str(done))
            threading.Event().wait()  # until SIGKILL

    Worker(JobQueue(publish_admin=True), threads=1, after_chunk=hang).run()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
