"""What the engine benchmarks share. Import it first (`import _common`): it puts the Hugging Face libraries offline
before anything imports them and the repository root on sys.path, so `embedlab` imports when a script is run as
`python bench/<script>.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tools.offline import OFFLINE_ENV  # noqa: E402

os.environ.update(OFFLINE_ENV)

import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

STS_DEV = REPO_ROOT.parent / "shared/data/stsbenchmark/sts-dev.csv"


def unique_sentences(pairs) -> list[str]:
    """The sentences of a pairs frame (sentence1, then sentence2), each once, in order of first appearance."""
    return list(dict.fromkeys([*pairs["sentence1"], *pairs["sentence2"]]))


def seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss: Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def yes(met: bool) -> str:
    return "yes" if met else "**no**"


SERVE_READY_LINE = "Ctrl-C stops everything."  # what `embedlab serve` prints once every replica is warm


def start_serve(replicas: int, port: int) -> subprocess.Popen[str]:
    """`python -m embedlab serve` with ``replicas`` replicas on ``port``, returned once it says it is ready."""
    command = [sys.executable, "-m", "embedlab", "serve", "--replicas", str(replicas), "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ
    )
    for line in process.stdout:
        if SERVE_READY_LINE in line:
            return process
    raise RuntimeError(f"serve exited with status {process.wait()}")
