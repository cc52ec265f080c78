"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKER_COMMAND = (sys.executable, "-m", "embedlab", "worker", "--threads", "1")
# a short stand-in for the reference sentences: the same code paths as the 320, a fraction of the time
SHORT_REFERENCE = [
    "A man is playing a guitar.",
    "The stock market fell sharply today.",
    "She is baking bread in the kitchen.",
    "Two dogs are running through the snow.",
    "Parliament passed the bill late last night.",
    "It will rain tomorrow in the north.",
]


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file byte for byte (str as UTF-8, newlines untouched) and return its path."""
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def one_line_error(capsys) -> str:
    """What a command printed for a user error: nothing on stdout, one `error: ...` line on stderr."""
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def read_until(stream, needle: str, timeout: float) -> str:
    """Read a subprocess's pipe (binary, unbuffered) until ``needle`` appears or ``timeout`` seconds pass; return
    what was read. Never blocks past the deadline (``select`` on the pipe)."""
    import os
    import select
    import time

    deadline = time.monotonic() + timeout
    seen = b""
    while needle.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([stream], [], [], left)
        if not ready:
            break
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:  # the process closed the pipe (it ended)
            break
        seen += chunk
    return seen.decode("utf-8", errors="replace")


def wait_for(check, what: str, timeout: float = 300.0):
    """Poll ``check()`` until it returns something true and return it; fail naming ``what`` after ``timeout`` s."""
    import threading
    import time

    import pytest

    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        pause.wait(0.2)
    pytest.fail(f"timed out waiting for {what}")


def stop_started_workers(timeout: float = 300.0) -> None:
    """End the training workers this test process started (``embedlab.training.queue.ensure_worker``): SIGTERM,
    then SIGKILL after ``timeout`` seconds; each is reaped."""
    import subprocess

    from embedlab.training.queue.spawn import started_workers

    for process in list(started_workers()):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        started_workers().remove(process)


@contextlib.contextmanager
def worker_processes(log_dir: Path, wait_s: float) -> Iterator[Callable[..., subprocess.Popen]]:
    """``start(env, *command, cwd=REPO)`` -> a queue worker (``python -m embedlab worker --threads 1``), or
    ``command`` instead, with ``env`` as its whole environment and its output in ``log_dir``; every process started
    is killed and reaped when the block ends, whatever the test did.
    """
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str], *command: str, cwd: Path = REPO) -> subprocess.Popen:
        log = open(log_dir / f"worker-{len(started)}.log", "wb")  # noqa: SIM115 - the child writes to it
        process = subprocess.Popen(
            list(command) or list(WORKER_COMMAND),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=wait_s)
